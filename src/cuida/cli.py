"""The `cuida` command. Every subcommand reads the same CUIDA_* settings."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from cuida import __version__
from cuida.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from cuida.runtime import Runtime

app = typer.Typer(
    help="Cuida: one inbox, one customer, nothing unanswered.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="API tokens for integrations.", no_args_is_help=True)
app.add_typer(token_app, name="token")
console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def runtime_or_exit(settings: Settings, *, check_queue: bool = True) -> Runtime:
    """Build the runtime and prove the database (and queue) answer, or say why not."""
    from cuida.db.engine import DatabaseUnavailable
    from cuida.jobs.queue import check_queue as reach_queue
    from cuida.runtime import Runtime

    try:
        runtime = Runtime(settings)
        runtime.db.check()
        if check_queue:
            reach_queue(runtime.huey)
    except DatabaseUnavailable as exc:
        fail(f"{exc}\n  check CUIDA_DATABASE_URL, and that the server is running")
    except RuntimeError as exc:
        fail(f"{exc}\n  check CUIDA_REDIS_URL, and that Redis is running")
    except Exception as exc:  # e.g. an unwritable data folder
        fail(f"cannot start: {exc}")
    return runtime.install()


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def version() -> None:
    """Print Cuida's version."""
    print(f"cuida {__version__}")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the latest version."""
    from cuida.db.migrate import current_revision, head_revision, upgrade

    settings = settings_or_exit()
    runtime = runtime_or_exit(settings, check_queue=False)
    before = current_revision(runtime.db)
    upgrade(runtime.db)
    after = current_revision(runtime.db)
    where = runtime.db.engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"database {where} is up to date (revision {after})")
    else:
        console.print(
            f"database {where} migrated from {before or 'empty'} to {after} (head {head_revision()})"
        )


def _require_current_schema(runtime: Runtime) -> None:
    from cuida.db.migrate import current_revision, head_revision

    current, head = current_revision(runtime.db), head_revision()
    if current != head:
        fail(
            f"the database schema is at {current or 'nothing'}, this version needs {head}: run `cuida migrate`"
        )


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (CUIDA_HOST)."),
    port: int = typer.Option(None, help="Port (CUIDA_PORT)."),
    demo: bool = typer.Option(False, "--demo", help="Load the demo stories first, if not loaded yet."),
    workers: bool = typer.Option(True, "--workers/--no-workers", help="Run job consumers in this process."),
) -> None:
    """Start the API, the agents' pages and (by default) the background workers in one process."""
    import uvicorn

    from cuida.app import create_app
    from cuida.auth.service import ensure_admin
    from cuida.db.migrate import upgrade

    settings = settings_or_exit()
    _logging(settings)
    runtime = runtime_or_exit(settings)
    upgrade(runtime.db)
    with runtime.db.session() as session:
        created = ensure_admin(
            session=session,
            email=os.environ.get("CUIDA_ADMIN_EMAIL", "admin@cuida.local"),
            password=os.environ.get("CUIDA_ADMIN_PASSWORD") or None,
        )
    host = host or settings.host
    port = port or settings.port
    if created:
        agent, password = created
        console.print(
            f"[bold green]First start:[/] an admin was created. Log in at http://{host}:{port}/login "
            f"as [bold]{agent.email}[/] with password [bold]{password}[/] (change it soon)."
        )
    if demo:
        from cuida.demo.loader import load_demo

        load_demo(runtime, console=console)
    console.print(
        f"Cuida {__version__} on http://{host}:{port}  (API docs: http://{host}:{port}/docs; "
        f"database: {runtime.db.dialect}; queue: {type(runtime.huey).__name__})"
    )
    application = create_app(settings, runtime=runtime, start_workers=workers and settings.in_process_worker)
    uvicorn.run(application, host=host, port=port, log_level=settings.log_level, access_log=False)


@app.command()
def worker(threads: int = typer.Option(None, help="Job threads (CUIDA_WORKER_THREADS).")) -> None:
    """Run background job consumers only (as many processes, on as many machines, as needed)."""
    from cuida.jobs.consumer import Consumers

    settings = settings_or_exit()
    _logging(settings)
    runtime = runtime_or_exit(settings)
    _require_current_schema(runtime)
    runtime.broker.listen()
    consumers = Consumers(
        runtime, threads or settings.worker_threads, reconcile_every=settings.reconcile_seconds
    ).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(
        f"worker {os.getpid()} consuming from {type(runtime.huey).__name__} "
        f"with {len(consumers.threads) - 1} threads"
    )
    stop.wait()
    console.print("stopping: finishing the jobs in hand")
    consumers.stop()
    runtime.close()


@app.command()
def demo(
    stories: Path = typer.Option(
        None,
        help="Folder of story files (default: the scenarios beside the project, "
        "else the stories bundled with Cuida).",
    ),
) -> None:
    """Load the demo stories as living data: customers, conversations, messages, agents."""
    from cuida.db.migrate import upgrade
    from cuida.demo.loader import load_demo

    settings = settings_or_exit()
    runtime = runtime_or_exit(settings)
    upgrade(runtime.db)
    result = load_demo(runtime, folder=stories, console=console)
    if result["failed"]:
        # Loaded what could be loaded; still tell scripts that something is missing.
        raise typer.Exit(code=1)


@app.command()
def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A story file (YAML)."),
    url: str = typer.Option("http://127.0.0.1:8000", help="Where Cuida is running."),
    token: str = typer.Option(..., envvar="CUIDA_TOKEN", help="An admin API token (needs the manual clock)."),
    start: str = typer.Option(None, help="When the story starts (ISO time); default: the server's clock."),
) -> None:
    """Replay a story through the public API, moving the server's manual clock as it goes."""
    import httpx

    from cuida.demo.replay import Replayer, ReplayError

    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            report = Replayer(client, console=console).replay_file(file, start=start)
    except httpx.ConnectError as exc:
        fail(f"cannot reach Cuida at {url}: {exc}")
    except ReplayError as exc:
        fail(str(exc))
    # Story text is data, not rich markup: print it as written.
    console.print(report.summary(), markup=False, highlight=False)


@app.command()
def train(
    output: Path = typer.Option(
        None,
        help="Where to write the model (default: CUIDA_DATA_DIR/models/triage, which Cuida then uses "
        "instead of the shipped model). Maintainers rebuild the shipped one with "
        "--output src/cuida/triage/artifacts.",
    ),
    include_corrections: bool = typer.Option(
        False, help="Also learn from the labels your agents corrected (needs the database)."
    ),
    corpus: Path = typer.Option(None, help="Folder of labelled messages-*.jsonl (default: Cuida's corpus)."),
) -> None:
    """Rebuild the triage model from the labelled corpus (and your agents' corrections)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cuida.triage.corpus import CORPUS_DIR, CorpusError, load_messages
    from cuida.triage.train import PartialExample, from_corpus, head_data

    settings = settings_or_exit()
    try:
        examples = [from_corpus(e) for e in load_messages(corpus or CORPUS_DIR)]
    except (CorpusError, OSError) as exc:
        fail(f"cannot read the corpus: {exc}")
    if not examples:
        fail(f"no labelled examples in {corpus or CORPUS_DIR} (messages-*.jsonl)")
    corrected = 0
    if include_corrections:
        from cuida.triage.service import correction_examples

        runtime = runtime_or_exit(settings, check_queue=False)
        _require_current_schema(runtime)
        with runtime.db.sessions() as session:
            rows = correction_examples(session=session)
        for text, language, labels in rows:
            examples.append(PartialExample(text, language, dict(labels)))
        corrected = len(rows)
    target = output or settings.data_dir / "models" / "triage"
    from cuida.triage import train as training

    steps = 1 + len(head_data(examples))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("training", total=steps)

        def advance(step: str) -> None:
            progress.update(task, description=f"training: {step}", advance=1)

        model = training.train(examples, progress=advance, meta={"corrections": corrected})
        progress.update(task, description="training: done", completed=steps)
    paths = training.save(model, target)
    size = sum(p.stat().st_size for p in paths) / 1e6
    console.print(
        f"triage model: {len(examples)} examples ({corrected} corrected messages), "
        f"{model.featurizer.size:,} features, {len(model.heads)} heads, {size:.1f} MB in {target}"
    )


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., help="Who will use it, e.g. 'marketing-campaigns'."),
    scopes: str = typer.Option(..., help="Comma-separated: messages:write,customers:read,... or admin."),
) -> None:
    """Create an API token and print it (only its hash is kept)."""
    from cuida.auth.permissions import parse_scopes
    from cuida.auth.service import create_token

    try:
        scope_list = parse_scopes(scopes)
    except ValueError as exc:
        fail(str(exc))
    settings = settings_or_exit()
    runtime = runtime_or_exit(settings, check_queue=False)
    _require_current_schema(runtime)
    with runtime.db.session() as session:
        secret, row = create_token(session=session, name=name, scopes=scope_list)
    console.print(f"token {row.id} '{name}' with scopes {', '.join(scope_list)}:")
    print(secret)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
