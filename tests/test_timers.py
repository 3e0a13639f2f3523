"""Timers fire once, at their time, from the database; moving or cancelling one is safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cuida.clock.service import set_now
from cuida.timers import service as timers
from cuida.timers.models import Timer


def _at(minutes: int) -> datetime:
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def test_timers_fire_once_when_due(runtime, monkeypatch):
    runtime.db.sessions.configure(info={"manual_clock": True})
    seen: list[tuple[str, dict]] = []
    monkeypatch.setitem(
        timers.HANDLERS, "test.ping", lambda *, session, timer, at: seen.append((timer.key, timer.payload))
    )
    with runtime.db.session() as session:
        set_now(session=session, to=_at(0))
        timers.schedule(session=session, kind="test.ping", key="a", due_at=_at(10), payload={"n": 1})
        timers.schedule(session=session, kind="test.ping", key="b", due_at=_at(20))
        timers.schedule(session=session, kind="test.ping", key="a", due_at=_at(15), payload={"n": 2})  # moved
        timers.schedule(session=session, kind="test.ping", key="c", due_at=_at(5))
        assert timers.cancel(session=session, key="c")
    with runtime.db.session() as session:
        assert timers.fire_due(session=session) == 0
        set_now(session=session, to=_at(16))
    with runtime.db.session() as session:
        assert timers.fire_due(session=session) == 1
    with runtime.db.session() as session:
        assert timers.fire_due(session=session) == 0, "a fired timer never fires again"
    assert seen == [("a", {"n": 2})]
    with runtime.db.session() as session:
        assert [t.key for t in timers.pending(session=session, prefix="")] == ["b"]


def test_a_failing_handler_is_recorded_and_does_not_stop_the_others(runtime, monkeypatch):
    runtime.db.sessions.configure(info={"manual_clock": True})
    done: list[str] = []

    def broken(*, session, timer, at):
        raise RuntimeError("boom")

    monkeypatch.setitem(timers.HANDLERS, "test.broken", broken)
    monkeypatch.setitem(timers.HANDLERS, "test.ok", lambda *, session, timer, at: done.append(timer.key))
    with runtime.db.session() as session:
        set_now(session=session, to=_at(0))
        timers.schedule(session=session, kind="test.broken", key="x", due_at=_at(0))
        timers.schedule(session=session, kind="test.ok", key="y", due_at=_at(0))
        timers.schedule(session=session, kind="test.unknown", key="z", due_at=_at(0))
    with runtime.db.session() as session:
        assert timers.fire_due(session=session) == 3
    assert done == ["y"]
    with runtime.db.sessions() as session:
        errors = {t.key: t.error for t in session.query(Timer).order_by(Timer.key)}
    assert "boom" in (errors["x"] or "") and errors["y"] is None and "no handler" in (errors["z"] or "")


def test_reconciler_fires_due_timers(runtime, monkeypatch):
    from cuida.jobs.reconciler import reconcile

    runtime.db.sessions.configure(info={"manual_clock": True})
    fired: list[str] = []
    monkeypatch.setitem(timers.HANDLERS, "test.ping", lambda *, session, timer, at: fired.append(timer.key))
    with runtime.db.session() as session:
        set_now(session=session, to=_at(0))
        for i in range(250):
            timers.schedule(session=session, kind="test.ping", key=f"k{i:03}", due_at=_at(i % 7))
    with runtime.db.session() as session:
        set_now(session=session, to=_at(10))
    assert reconcile(runtime)["timers"] == 250
    assert sorted(fired) == [f"k{i:03}" for i in range(250)]
