"""Timers fire once, at their time, from the database; moving or cancelling one is safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cuida.clock.service import set_now
from cuida.events.models import Event
from cuida.events.service import publish
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

    def broken(*, session, timer, at):
        publish(session=session, type="test.half_done", payload={"key": timer.key})
        raise RuntimeError("boom")

    def ok(*, session, timer, at):
        publish(session=session, type="test.done", payload={"key": timer.key})

    monkeypatch.setitem(timers.HANDLERS, "test.broken", broken)
    monkeypatch.setitem(timers.HANDLERS, "test.ok", ok)
    with runtime.db.session() as session:
        set_now(session=session, to=_at(0))
        # The good ones fire before and after the broken one in the same batch.
        timers.schedule(session=session, kind="test.ok", key="w", due_at=_at(-2))
        timers.schedule(session=session, kind="test.broken", key="x", due_at=_at(-1))
        timers.schedule(session=session, kind="test.ok", key="y", due_at=_at(0))
        timers.schedule(session=session, kind="test.unknown", key="z", due_at=_at(0))
    with runtime.db.session() as session:
        assert timers.fire_due(session=session) == 4
    with runtime.db.sessions() as session:
        errors = {t.key: t.error for t in session.query(Timer).order_by(Timer.key)}
        fired = {t.key: t.fired_at for t in session.query(Timer)}
        done = sorted(e.payload["key"] for e in session.query(Event).filter(Event.type == "test.done"))
        half = session.query(Event).filter(Event.type == "test.half_done").count()
    assert "boom" in (errors["x"] or "") and "no handler" in (errors["z"] or "")
    assert errors["w"] is None and errors["y"] is None
    assert all(fired.values()), "every timer taken is marked fired, the broken one too"
    assert done == ["w", "y"], "each good handler's work is kept, once"
    assert half == 0, "the broken handler's own writes are rolled back"


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
