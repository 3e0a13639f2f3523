"""The database is the truth: lost jobs are found again, repeated jobs change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from cuida.clock.service import wall_now
from cuida.conversations.models import Conversation, Message
from cuida.events.models import Event
from cuida.events.service import SYSTEM
from cuida.ingest.schemas import MessageIn
from cuida.ingest.service import accept, process_message
from cuida.jobs.reconciler import reconcile


def _store(runtime, count=3):
    items = [
        MessageIn(channel="email", external_id=f"m{i}", author=f"c{i % 2}@x.es", text=f"hola {i}")
        for i in range(count)
    ]
    with runtime.db.session() as session:
        return [a.message_id for a in accept(session=session, items=items, actor=SYSTEM)]


def _count(runtime, model, *where):
    with runtime.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_processing_twice_changes_nothing(runtime):
    ids = _store(runtime)
    for message_id in ids:
        assert process_message(runtime.db, message_id, lease_seconds=30) is True
    before = (_count(runtime, Event), _count(runtime, Conversation))
    for message_id in ids:
        assert process_message(runtime.db, message_id, lease_seconds=30) is False
    assert (_count(runtime, Event), _count(runtime, Conversation)) == before
    with runtime.db.sessions() as session:
        counts = session.scalars(select(Conversation.message_count).order_by(Conversation.id)).all()
    assert counts == [2, 1]


def test_a_leased_message_is_left_to_its_worker(runtime):
    [message_id] = _store(runtime, 1)
    with runtime.db.session() as session:
        session.execute(update(Message).values(lease_until=wall_now() + timedelta(seconds=60)))
    assert process_message(runtime.db, message_id, lease_seconds=30) is False
    assert reconcile(runtime)["messages"] == 0


def test_reconciler_finds_lost_jobs_and_expired_leases(runtime):
    ids = _store(runtime, 4)  # stored, but their jobs were never enqueued (a lost enqueue)
    stale = wall_now() - timedelta(seconds=runtime.settings.lease_seconds + 1)
    with runtime.db.session() as session:
        session.execute(update(Message).where(Message.id.in_(ids[:2])).values(enqueued_at=stale))
        # A worker died holding this one: its lease ran out.
        session.execute(
            update(Message)
            .where(Message.id == ids[2])
            .values(enqueued_at=stale, lease_until=wall_now() - timedelta(seconds=1))
        )
    assert reconcile(runtime)["messages"] == 3
    assert _count(runtime, Message, Message.stage == "done") == 3
    # The fourth was enqueued just now: it is not stale yet.
    assert _count(runtime, Message, Message.stage == "received") == 1


def test_a_crash_between_stages_resumes_at_the_next_stage(runtime, monkeypatch):
    [message_id] = _store(runtime, 1)
    import cuida.ingest.service as pipeline

    def broken(text):
        raise RuntimeError("triage model crashed")

    monkeypatch.setattr(pipeline, "analyze", broken)
    assert process_message(runtime.db, message_id, lease_seconds=30) is False
    with runtime.db.sessions() as session:
        message = session.get(Message, message_id)
        assert message.stage == "linked" and "triage model crashed" in message.last_error
    monkeypatch.undo()
    assert process_message(runtime.db, message_id, lease_seconds=30) is True
    assert _count(runtime, Event, Event.type == "message.received") == 1
    assert _count(runtime, Conversation) == 1
