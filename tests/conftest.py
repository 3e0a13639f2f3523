"""Test fixtures. Storage tests run on the database named by CUIDA_TEST_DB (sqlite or
postgresql); the test command runs the suite once for each. A missing PostgreSQL or Redis
fails the run: it is never skipped."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cuida.app import create_app
from cuida.auth.permissions import SCOPES
from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, create_token
from cuida.db.migrate import upgrade
from cuida.runtime import Runtime
from cuida.settings import Settings, load_settings

BACKEND = os.environ.get("CUIDA_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("CUIDA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CUIDA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ADMIN_PASSWORD = "correct horse battery"


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def _pg_engine(url: str) -> Any:
    return create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def create_pg_database(name: str) -> str:
    """A fresh, migrated PostgreSQL database; raises if the server is not there."""
    engine = _pg_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return _pg_url(name)


def drop_pg_database(name: str) -> None:
    engine = _pg_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The services this project runs on must be there: a missing one fails the run at once,
    whatever subset of tests was asked for, instead of skipping what needs it."""
    if hasattr(session.config, "workerinput"):
        return  # xdist workers: the controller has checked
    import redis

    problems = []
    try:
        engine = _pg_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        problems.append(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        problems.append(f"Redis is not reachable at {REDIS_URL}: {exc}")
    if problems:
        pytest.exit("the test suite needs its services: " + "; ".join(problems), 3)


@pytest.fixture(scope="session")
def worker_tag(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory, worker_tag: str) -> Iterator[dict[str, Any]]:
    """Migrate once per test process: a template SQLite file, or one PostgreSQL database."""
    if BACKEND == "postgresql":
        name = f"cuida_test_{worker_tag}_{os.getpid()}"
        try:
            url = create_pg_database(name)
        except Exception as exc:
            pytest.exit(f"PostgreSQL is required for CUIDA_TEST_DB=postgresql and is not reachable: {exc}", 3)
        settings = load_settings(database_url=url, data_dir=tmp_path_factory.mktemp("pgdata"))
        runtime = Runtime(settings, immediate=True)
        upgrade(runtime.db)
        runtime.db.dispose()
        yield {"url": url}
        drop_pg_database(name)
    elif BACKEND == "sqlite":
        folder = tmp_path_factory.mktemp("template")
        runtime = Runtime(load_settings(data_dir=folder), immediate=True)
        upgrade(runtime.db)
        runtime.db.dispose()
        yield {"file": folder / "cuida.sqlite3"}
    else:
        pytest.exit(f"CUIDA_TEST_DB must be sqlite or postgresql, not {BACKEND!r}", 3)


def _tables() -> list[str]:
    """Every table, children before parents, so truncating in this order respects foreign keys."""
    import cuida.db.models  # noqa: F401
    from cuida.db.base import Base

    return [t.name for t in reversed(Base.metadata.sorted_tables)]


TABLES = _tables()


def fresh_settings(template: dict[str, Any], data_dir: Path, **overrides: Any) -> Settings:
    """Settings for one test on an empty, migrated database."""
    if BACKEND == "postgresql":
        engine = _pg_engine(template["url"])
        with engine.connect() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        engine.dispose()
        values: dict[str, Any] = {"database_url": template["url"], "manual_clock_force": True}
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(template["file"], data_dir / "cuida.sqlite3")
        values = {}
    values.update({"data_dir": data_dir, "manual_clock": True, **overrides})
    return load_settings(**values)


@pytest.fixture
def settings(migrated_template: dict[str, Any], tmp_path: Path) -> Settings:
    return fresh_settings(migrated_template, tmp_path / "data")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """Jobs run inside the enqueue call (Huey immediate mode): the API answers after processing."""
    rt = Runtime(settings, immediate=True).install()
    yield rt
    rt.close()


class Api:
    """A TestClient with an admin token, plus shortcuts for the calls tests make most."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.client.put(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def message(self, **fields: Any) -> dict[str, Any]:
        body = {"channel": "email", "direction": "in", **fields}
        response = self.post("/api/v1/messages?wait=5", json=body)
        assert response.status_code in (200, 202), response.text
        return dict(response.json())


@pytest.fixture
def admin_token(runtime: Runtime) -> str:
    with runtime.db.session() as session:
        create_agent(
            session=session,
            data=AgentCreate(email="admin@example.com", name="Admin", password=ADMIN_PASSWORD, role="admin"),
        )
        secret, _ = create_token(session=session, name="tests", scopes=list(SCOPES))
    return secret


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime.settings, runtime=runtime, start_workers=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, admin_token: str) -> Api:
    return Api(client, admin_token)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        pytest.exit(f"Redis is required and is not reachable at {REDIS_URL}: {exc}", 3)
    return REDIS_URL
