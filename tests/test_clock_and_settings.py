from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cuida.settings import SettingsError, load_settings


def test_manual_clock_moves_forward_only_and_stamps_messages(api):
    start = api.put("/api/v1/admin/clock", json={"now": "2026-03-02T09:00:00+01:00"})
    assert start.status_code == 200 and start.json()["now"] == "2026-03-02T08:00:00Z"
    accepted = api.message(author="a@x.es", external_id="1", text="hola")
    message = api.get(f"/api/v1/messages/{accepted['message_id']}").json()
    assert (
        message["received_at"] == "2026-03-02T08:00:00Z" and message["occurred_at"] == "2026-03-02T08:00:00Z"
    )
    later = api.put("/api/v1/admin/clock", json={"advance_seconds": 86400 * 3})
    assert later.json()["now"] == "2026-03-05T08:00:00Z"
    back = api.put("/api/v1/admin/clock", json={"now": "2026-03-01T00:00:00Z"})
    assert back.status_code == 409 and "only moves forward" in back.json()["error"]["message"]
    both = api.put("/api/v1/admin/clock", json={"now": "2026-03-09T00:00:00Z", "advance_seconds": 1})
    assert both.status_code == 422


def test_manual_clock_is_refused_on_postgresql_unless_forced():
    with pytest.raises(SettingsError, match="CUIDA_MANUAL_CLOCK is refused on PostgreSQL"):
        load_settings(database_url="postgresql://postgres@127.0.0.1/x", manual_clock=True)
    assert load_settings(
        database_url="postgresql://postgres@127.0.0.1/x", manual_clock=True, manual_clock_force=True
    ).manual_clock


def test_manual_clock_off_means_endpoint_refuses(client, runtime, admin_token):
    runtime.db.sessions.configure(info={"manual_clock": False})
    response = client.put(
        "/api/v1/admin/clock",
        json={"advance_seconds": 10},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 409 and "CUIDA_MANUAL_CLOCK" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        (
            {"CUIDA_DATABASE_URL": "mysql://root@localhost/x"},
            "CUIDA_DATABASE_URL: Value error, unsupported database",
        ),
        ({"CUIDA_REDIS_URL": "http://localhost"}, "CUIDA_REDIS_URL"),
        ({"CUIDA_PORT": "99999"}, "CUIDA_PORT"),
    ],
)
def test_cli_says_which_setting_is_wrong(tmp_path, env, words):
    result = _cuida(["migrate"], tmp_path, env)
    assert result.returncode == 2
    assert words in result.stderr.replace("\n", " ")


def test_cli_says_when_a_server_cannot_be_reached(tmp_path):
    result = _cuida(
        ["migrate"], tmp_path, {"CUIDA_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"}
    )
    assert result.returncode == 2 and "cannot reach the database" in result.stderr
    result = _cuida(["worker"], tmp_path, {"CUIDA_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2 and "cannot reach the work queue" in result.stderr


def test_cli_version_migrate_and_token(tmp_path):
    assert _cuida(["version"], tmp_path).stdout.startswith("cuida ")
    migrated = _cuida(["migrate"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in _cuida(["migrate"], tmp_path).stderr
    bad = _cuida(["token", "create", "--name", "x", "--scopes", "everything"], tmp_path)
    assert bad.returncode == 2 and "unknown scope" in bad.stderr
    made = _cuida(["token", "create", "--name", "crm", "--scopes", "messages:write,customers:read"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith("cuida_")


def _cuida(args, tmp_path, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CUIDA_")}
    environment.update({"CUIDA_DATA_DIR": str(tmp_path / "data"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "cuida.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_a_transaction_reads_the_manual_clock_once_and_sees_its_own_moves(runtime):
    from datetime import UTC, datetime, timedelta

    from cuida.clock.service import now, set_now

    runtime.db.sessions.configure(info={"manual_clock": True})
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with runtime.db.session() as session:
        assert now(session=session) != t0
        set_now(session=session, to=t0)
        assert now(session=session) == t0, "a transaction sees its own move at once"
    later = t0
    if runtime.db.dialect == "postgresql":  # SQLite runs one transaction at a time: no one moves it meanwhile
        later = t0 + timedelta(hours=1)
        with runtime.db.session() as reader:
            assert now(session=reader) == t0
            with runtime.db.session() as other:
                set_now(session=other, to=later)
            assert now(session=reader) == t0, "a transaction's time stands still"
    with runtime.db.session() as session:
        assert now(session=session) == later


def test_the_event_order_lock_is_taken_again_after_a_savepoint_rolls_back(runtime):
    from sqlalchemy import text

    from cuida.events.models import Event
    from cuida.events.service import publish

    postgres = runtime.db.dialect == "postgresql"
    advisory = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
    with runtime.db.session() as session:
        with pytest.raises(RuntimeError), session.begin_nested():
            publish(session=session, type="test.undone")
            raise RuntimeError("rolled back")
        if postgres:
            assert session.scalar(advisory) == 0, "the savepoint's rollback released the lock"
        publish(session=session, type="test.kept")
        if postgres:
            assert session.scalar(advisory) == 1, "the next event takes it again"
    with runtime.db.sessions() as session:
        assert [e.type for e in session.query(Event).filter(Event.type.like("test.%"))] == ["test.kept"]
