"""`cuida demo` and `cuida serve --demo`: the stories loaded as living data, plus agents to log in as.

Each story is replayed through the API of an in-process app, so demo data is made exactly like
real data. A `demo.loaded` event marks each story loaded: running the loader again adds nothing.
The manual clock is never needed: messages are placed by their `occurred_at`, each story ending
an hour ago.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import select

from cuida.auth.models import Agent
from cuida.auth.permissions import SCOPES
from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, create_token, get_or_create_team, revoke_token
from cuida.demo.replay import Replayer, ReplayError
from cuida.demo.stories import Story, load_story, story_files
from cuida.events.models import Event
from cuida.events.service import Actor, publish
from cuida.runtime import Runtime

BUNDLED_STORIES = Path(__file__).parent / "stories"
LOADED_MARKER = "demo.loaded"
DEMO_DOMAIN = "demo.cuida.local"
DEMO_PASSWORD = "cuida-demo-2026"
LEAD_EMAIL = f"lead@{DEMO_DOMAIN}"
_LOADER = Actor("system", None, "demo loader")


def find_stories_folder(folder: Path | None = None) -> Path:
    """The folder given, else $CUIDA_SCENARIOS_DIR, else a `shared/scenarios` beside the project
    (looked for from the current directory upwards), else the stories bundled with Cuida."""
    if folder is not None:
        return folder
    if os.environ.get("CUIDA_SCENARIOS_DIR"):
        return Path(os.environ["CUIDA_SCENARIOS_DIR"])
    here = Path.cwd().resolve()
    for level in (here, *here.parents):
        candidate = level / "shared" / "scenarios"
        if candidate.is_dir() and story_files(candidate):
            return candidate
    return BUNDLED_STORIES


def load_demo(runtime: Runtime, folder: Path | None = None, console: Console | None = None) -> dict[str, Any]:
    """Replay every story not loaded yet and make sure the demo agents exist.

    Returns what happened: the folder, stories loaded now, stories already there, failures by
    file, and the demo agents created now. A story that fails is reported, never fatal, so
    `cuida serve --demo` still starts.
    """
    folder = find_stories_folder(folder)
    stories: list[Story] = []
    failed: dict[str, str] = {}
    for path in story_files(folder) if folder.is_dir() else []:
        try:
            stories.append(load_story(path))
        except ReplayError as exc:
            failed[path.name] = str(exc)
    if not stories and not failed:
        failed[str(folder)] = f"{folder}: no story files (*.yaml) here"
    already = _loaded_stories(runtime)
    todo = [story for story in stories if story.name not in already]
    teams = sorted({team for story in stories for team in story.teams})
    # Agents first: each story's replies, promises and gestures are made by its team's agent.
    agents = _ensure_demo_agents(runtime, teams) if stories else []
    loaded = _replay_all(runtime, todo, failed, console, teams) if todo else []
    result = {
        "folder": str(folder),
        "loaded": loaded,
        "already_loaded": sorted(already & {story.name for story in stories}),
        "failed": failed,
        "agents_created": agents,
    }
    if console is not None:
        _tell(console, result, teams)
    return result


def _in_process_client(runtime: Runtime, token: str | None = None) -> httpx.Client:
    """An httpx client that calls this process's app directly, with no server or port; with a
    bearer token, or none to log in as an agent with `_log_in`."""
    from starlette.exceptions import StarletteDeprecationWarning

    from cuida.app import create_app

    with warnings.catch_warnings():
        # Starlette's note on its own choice of HTTP client means nothing to someone loading a demo.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    # No `with`: the app's lifespan would start and stop the runtime's own workers.
    return TestClient(
        create_app(runtime.settings, runtime=runtime, start_workers=False),
        raise_server_exceptions=False,
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )


def _log_in(runtime: Runtime, email: str) -> httpx.Client:
    """A client with a demo agent's session (cookie and CSRF header), acting as that agent."""
    client = _in_process_client(runtime)
    response = client.post("/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD})
    if response.status_code != 200:
        client.close()
        raise ReplayError(f"could not log in as the demo agent {email}: {response.text[:200]}")
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def _replay_all(
    runtime: Runtime, stories: list[Story], failed: dict[str, str], console: Console | None, teams: list[str]
) -> list[str]:
    from cuida.jobs.consumer import Consumers

    with runtime.db.session() as session:
        secret, token = create_token(
            session=session,
            name="cuida-demo-loader",
            scopes=list(SCOPES),
            note="used while loading the demo stories, then revoked",
        )
    client = _in_process_client(runtime, secret)  # this also installs the runtime the job handlers use
    consumers = None
    if runtime.consumers is None and not runtime.huey.immediate:
        # Messages wait for the pipeline (?wait=...): something must consume the queue meanwhile.
        consumers = Consumers(runtime, 1, reconcile_every=5).start()
    agents = {team: _log_in(runtime, f"{team}@{DEMO_DOMAIN}") for team in teams}
    replayer = Replayer(client, use_clock=False, agents=agents)
    loaded = []
    # httpx would log each in-process call of the replay at INFO: noise in `cuida serve --demo`.
    httpx_log = logging.getLogger("httpx")
    httpx_level = httpx_log.level
    httpx_log.setLevel(logging.WARNING)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=console is None,
            transient=True,
        ) as progress:
            task = progress.add_task("Loading demo stories", total=len(stories))
            for story in stories:
                progress.update(task, description=f"Loading {story.name}")
                try:
                    report = replayer.replay_story(story)
                except ReplayError as exc:
                    failed[Path(story.source).name] = str(exc)
                else:
                    _mark_loaded(runtime, story, report.customer_id)
                    loaded.append(story.name)
                progress.advance(task)
    finally:
        httpx_log.setLevel(httpx_level)
        client.close()
        for agent_client in agents.values():
            agent_client.close()
        with runtime.db.session() as session:
            revoke_token(session=session, token_id=token.id, actor=_LOADER)
        if consumers is not None:
            consumers.stop()
    return loaded


def _loaded_stories(runtime: Runtime) -> set[str]:
    with runtime.db.sessions() as session:
        payloads = session.scalars(select(Event.payload).where(Event.type == LOADED_MARKER))
        return {str(payload.get("story")) for payload in payloads}


def _mark_loaded(runtime: Runtime, story: Story, customer_id: int | None) -> None:
    with runtime.db.session() as session:
        publish(
            session=session,
            type=LOADED_MARKER,
            actor=_LOADER,
            customer_id=customer_id,
            payload={"story": story.name, "source": story.source},
        )


def _ensure_demo_agents(runtime: Runtime, teams: list[str]) -> list[str]:
    """One agent per team plus a lead over all of them; those that exist are left alone."""
    wanted = [
        AgentCreate(
            email=f"{team}@{DEMO_DOMAIN}",
            name=f"Demo {team.replace('-', ' ')}",
            password=DEMO_PASSWORD,
            role="agent",
            team_slugs=[team],
        )
        for team in teams
    ]
    wanted.append(
        AgentCreate(email=LEAD_EMAIL, name="Demo lead", password=DEMO_PASSWORD, role="lead", team_slugs=teams)
    )
    created = []
    with runtime.db.session() as session:
        existing = set(session.scalars(select(Agent.email).where(Agent.email.in_([a.email for a in wanted]))))
        for team in teams:
            get_or_create_team(session=session, slug=team, name=team.replace("-", " ").capitalize())
        for data in wanted:
            if data.email not in existing:
                create_agent(session=session, data=data, actor=_LOADER)
                created.append(data.email)
    return created


def _tell(console: Console, result: dict[str, Any], teams: list[str]) -> None:
    loaded, already = result["loaded"], result["already_loaded"]
    console.print(
        f"Demo stories from {result['folder']}: {len(loaded)} loaded now"
        + (f" ({', '.join(loaded)})" if loaded else "")
        + (f", {len(already)} already there" if already else ""),
        highlight=False,
    )
    for error in result["failed"].values():
        console.print(f"[bold red]could not load[/] {escape(error)}", highlight=False)
    if not loaded and not already:
        return
    agents = ", ".join(f"{team}@{DEMO_DOMAIN}" for team in teams) or "none"
    console.print(
        f"Demo agents: log in at /login with password [bold]{DEMO_PASSWORD}[/] as the lead, "
        f"[bold]{LEAD_EMAIL}[/], or as the agent of one team: {agents}",
        highlight=False,
    )
