"""The `cuida` command. Every subcommand reads the same CUIDA_* settings."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

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


@app.command("train-reach")
def train_reach(
    cascades: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="Folder of your finished cascades, one file per post."
    ),
    output: Path = typer.Option(
        None, help="Where to write the correction (default: CUIDA_DATA_DIR/models/reach-correction.json)."
    ),
) -> None:
    """Fit the reach forecast's local correction on your own finished cascades (file format:
    docs/reach-forecast.md). Written to the default place, the forecaster applies it by itself (no
    restart); elsewhere, set CUIDA_REACH_CORRECTION to it."""
    from cuida.listening.reach import CORRECTION_ENV, fit_local, read_cascade

    target = output or settings_or_exit().data_dir / "models" / "reach-correction.json"
    try:
        rows = [read_cascade(p) for p in sorted(cascades.iterdir()) if p.is_file()]
        with console.status(f"fitting on {len(rows)} cascades"):
            correction = fit_local(rows)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    target.parent.mkdir(parents=True, exist_ok=True)
    correction.save(target)
    default = settings_or_exit().data_dir / "models" / "reach-correction.json"
    hint = "applied from now on" if target.resolve() == default.resolve() else f"set {CORRECTION_ENV}={target}"
    console.print(f"reach correction from {len(rows)} cascades in {target}; {hint}")


@app.command("import-mentions")
def import_mentions(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="An export: CSV with a header, or JSON."
    ),
    format: str = typer.Option(None, "--format", help="csv or json (default: from the file's extension)."),
    chunk: int = typer.Option(200, min=1, max=5000, help="Rows per transaction."),
) -> None:
    """Import social mentions (author, followers, text, link, time, engagement counts) from an export
    of a social network or a listening tool. Each row becomes a mention, processed before the command
    ends; a post already imported (same link) is not stored twice. Rows that cannot be read are
    listed and kept in the quarantine."""
    from cuida.common.errors import CuidaError
    from cuida.listening.mention_import import read_rows

    suffix = file.suffix.lower()
    fmt = format or {".csv": "csv", ".tsv": "csv", ".json": "json"}.get(suffix)
    if fmt not in ("csv", "json"):
        fail(f"cannot tell the format of {file.name}: say --format csv or --format json")
    settings = settings_or_exit()
    try:
        rows = read_rows(file.read_bytes(), fmt)
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
    except CuidaError as exc:
        fail(f"{file.name}: {exc.message}")
    runtime = runtime_or_exit(settings, check_queue=False).install()
    try:
        _require_current_schema(runtime)
        _import_mentions(runtime, rows, file.name, fmt, chunk)
    finally:
        runtime.close()


def _import_mentions(runtime: Runtime, rows: list[Any], name: str, fmt: str, chunk: int) -> None:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cuida.events.service import Actor
    from cuida.ingest.service import process_messages
    from cuida.listening.mention_import import import_rows

    actor = Actor("cli", None, "cuida import-mentions")
    stored = duplicates = snapshots = 0
    errors = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"importing {name}", total=len(rows))
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            with runtime.db.session() as session:
                result = import_rows(session=session, rows=part, actor=actor, source=name, fmt=fmt)
            if result.message_ids:  # linked, threaded, triaged and recorded as mentions here and now
                process_messages(runtime.db, result.message_ids, lease_seconds=runtime.settings.lease_seconds)
            stored, duplicates = stored + result.stored, duplicates + result.duplicates
            snapshots += result.snapshots
            errors.extend(result.errors)
            progress.advance(task, len(part))
    for error in errors[:50]:
        where = f"row {error.row}" + (f" (line {error.line})" if error.line else "")
        problems = escape("; ".join(f"{e['field']}: {e['message']}" for e in error.errors))
        console.print(f"[yellow]{where}[/]: {problems} (quarantine #{error.quarantine_id})", highlight=False)
    if len(errors) > 50:
        console.print(f"... and {len(errors) - 50} more rows in the quarantine", highlight=False)
    console.print(
        f"{name}: {len(rows)} rows: {stored} new mentions, {duplicates} already imported, "
        f"{snapshots} new engagement readings, {len(errors)} rows not readable",
        highlight=False,
        markup=False,
    )
    if rows and stored + duplicates == 0:
        raise typer.Exit(1)


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
