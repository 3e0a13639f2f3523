"""Channel accounts: the only code that changes them, their health and their pollers' cursors.

Polling is leased per account (wall time), so two workers never poll one mailbox at once; a
worker killed while polling leaves a lease that runs out, and the next poll starts from the
cursor committed with the last stored batch. Health is telemetry: it is updated on every poll,
and only a change between working and failing is published as an event.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cuida.channels.kinds import Kind, kinds
from cuida.channels.models import ChannelAccount, ChannelCursor
from cuida.channels.schemas import (
    ChannelAccountCreate,
    ChannelAccountRead,
    ChannelAccountUpdate,
    ChannelHealth,
)
from cuida.clock.service import now, wall_now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.db.base import affected_rows
from cuida.events.service import SYSTEM, Actor, publish

if TYPE_CHECKING:
    from cuida.runtime import Runtime

MAX_ERROR_CHARS = 2000
POLL_JOB_LOST_SECONDS = 120


def kind_of(name: str) -> Kind:
    known = kinds()
    if name not in known:
        raise Invalid(f"unknown account kind {name!r}; known kinds: {', '.join(sorted(known))}", field="kind")
    return known[name]


def _checked_config(kind: Kind, config: dict[str, Any]) -> dict[str, Any]:
    try:
        model = kind.config.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Invalid(f"config.{where}: {first['msg']}", field=f"config.{where}") from None
    return model.model_dump(mode="json")


def _checked_secrets(kind: Kind, secrets: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(secrets) - set(kind.secrets))
    if unknown:
        allowed = ", ".join(kind.secrets) or "none"
        raise Invalid(
            f"unknown secret(s) {', '.join(unknown)}; {kind.name} takes: {allowed}", field="secrets"
        )
    return secrets


def read(account: ChannelAccount) -> ChannelAccountRead:
    return ChannelAccountRead(
        id=account.id,
        kind=account.kind,
        name=account.name,
        config=account.config or {},
        secrets_set=sorted(k for k, v in (account.secrets or {}).items() if v),
        enabled=account.enabled,
        created_at=account.created_at,
        updated_at=account.updated_at,
        health=ChannelHealth.model_validate(account),
    )


def _name_taken(session: Session, name: str, but: int | None = None) -> bool:
    query = select(ChannelAccount.id).where(ChannelAccount.name == name)
    if but is not None:
        query = query.where(ChannelAccount.id != but)
    return session.scalar(query) is not None


def create_account(*, session: Session, data: ChannelAccountCreate, actor: Actor = SYSTEM) -> ChannelAccount:
    kind = kind_of(data.kind)
    if _name_taken(session, data.name):
        raise Conflict(f"a channel account named {data.name!r} exists already")
    at = now(session=session)
    account = ChannelAccount(
        kind=kind.name,
        name=data.name,
        config=_checked_config(kind, data.config),
        secrets=_checked_secrets(kind, dict(data.secrets)),
        enabled=data.enabled,
        created_at=at,
        updated_at=at,
        backlog=0,
        next_poll_at=wall_now() if kind.poll else None,
    )
    session.add(account)
    session.flush()
    publish(
        session=session,
        type="channel.account_created",
        actor=actor,
        payload={"account_id": account.id, "kind": account.kind, "name": account.name},
    )
    return account


def list_accounts(*, session: Session, kind: str | None = None) -> list[ChannelAccount]:
    query = select(ChannelAccount).order_by(ChannelAccount.id)
    if kind:
        query = query.where(ChannelAccount.kind == kind)
    return list(session.scalars(query))


def get_account(*, session: Session, account_id: int, for_update: bool = False) -> ChannelAccount:
    account = session.get(ChannelAccount, account_id, with_for_update=for_update)
    if account is None:
        raise NotFound(f"channel account {account_id} does not exist")
    return account


def update_account(
    *, session: Session, account_id: int, data: ChannelAccountUpdate, actor: Actor = SYSTEM
) -> ChannelAccount:
    account = get_account(session=session, account_id=account_id, for_update=True)
    kind = kind_of(account.kind)
    changed: list[str] = []
    if data.name is not None and data.name != account.name:
        if _name_taken(session, data.name, but=account.id):
            raise Conflict(f"a channel account named {data.name!r} exists already")
        account.name = data.name
        changed.append("name")
    if data.config is not None:
        merged = {**(account.config or {}), **data.config}
        account.config = _checked_config(kind, {k: v for k, v in merged.items() if v is not None})
        changed.append("config")
    if data.secrets is not None:
        merged = {**(account.secrets or {}), **data.secrets}
        account.secrets = _checked_secrets(kind, {k: v for k, v in merged.items() if v is not None})
        changed.append("secrets")  # which ones changed is not said: names are enough to leak nothing
    if data.enabled is not None and data.enabled != account.enabled:
        account.enabled = data.enabled
        if data.enabled and kind.poll:
            account.next_poll_at = wall_now()
        changed.append("enabled")
    if changed:
        account.updated_at = now(session=session)
        publish(
            session=session,
            type="channel.account_updated",
            actor=actor,
            payload={"account_id": account.id, "kind": account.kind, "changed": changed},
        )
    return account


# --- health ----------------------------------------------------------------------------------------


def record_success(*, session: Session, account_id: int, backlog: int) -> None:
    account = get_account(session=session, account_id=account_id)
    recovered = account.last_error is not None
    account.last_success_at = now(session=session)
    account.last_error = None
    account.backlog = backlog
    if recovered:
        publish(
            session=session,
            type="channel.recovered",
            payload={"account_id": account.id, "kind": account.kind, "name": account.name},
        )


def record_error(*, session: Session, account_id: int, error: str, backlog: int | None = None) -> None:
    account = get_account(session=session, account_id=account_id)
    first = account.last_error is None
    account.last_error = error[:MAX_ERROR_CHARS]
    account.last_error_at = now(session=session)
    if backlog is not None:
        account.backlog = backlog
    if first:
        publish(
            session=session,
            type="channel.failing",
            payload={"account_id": account.id, "kind": account.kind, "error": account.last_error[:500]},
        )


# --- polling -----------------------------------------------------------------------------------------


def due_polls(*, session: Session, limit: int = 100) -> list[int]:
    """Enabled accounts of a polling kind whose next poll is due and whom no worker holds; they
    are marked as enqueued (call it in a write transaction, then enqueue their jobs)."""
    polling = [name for name, kind in kinds().items() if kind.poll is not None]
    wall = wall_now()
    query = (
        select(ChannelAccount.id)
        .where(
            ChannelAccount.enabled.is_(True),
            ChannelAccount.kind.in_(polling),
            or_(ChannelAccount.next_poll_at.is_(None), ChannelAccount.next_poll_at <= wall),
            or_(ChannelAccount.poll_lease_until.is_(None), ChannelAccount.poll_lease_until < wall),
        )
        .order_by(ChannelAccount.next_poll_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        # Not due again while its job waits in the queue; if the job is lost, due again then.
        session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id.in_(ids))
            .values(next_poll_at=wall + timedelta(seconds=POLL_JOB_LOST_SECONDS))
        )
    return ids


def claim_poll(*, session: Session, account_id: int, lease_seconds: float) -> bool:
    """Hold the account for one poll; False when another worker holds it or it is disabled."""
    wall = wall_now()
    result = session.execute(
        update(ChannelAccount)
        .where(
            ChannelAccount.id == account_id,
            ChannelAccount.enabled.is_(True),
            or_(ChannelAccount.poll_lease_until.is_(None), ChannelAccount.poll_lease_until < wall),
        )
        .values(poll_lease_until=wall + timedelta(seconds=lease_seconds))
    )
    return affected_rows(result) == 1


def extend_poll(*, session: Session, account_id: int, lease_seconds: float) -> None:
    session.execute(
        update(ChannelAccount)
        .where(ChannelAccount.id == account_id)
        .values(poll_lease_until=wall_now() + timedelta(seconds=lease_seconds))
    )


def release_poll(*, session: Session, account_id: int, next_in_seconds: float) -> None:
    session.execute(
        update(ChannelAccount)
        .where(ChannelAccount.id == account_id)
        .values(poll_lease_until=None, next_poll_at=wall_now() + timedelta(seconds=next_in_seconds))
    )


def get_cursor(*, session: Session, account_id: int, key: str) -> dict[str, Any]:
    value = session.scalar(
        select(ChannelCursor.value).where(ChannelCursor.account_id == account_id, ChannelCursor.key == key)
    )
    return dict(value or {})


def set_cursor(*, session: Session, account_id: int, key: str, value: dict[str, Any]) -> None:
    """Move a poller's cursor; call it in the transaction that stores what was fetched."""
    row = session.scalar(
        select(ChannelCursor).where(ChannelCursor.account_id == account_id, ChannelCursor.key == key)
    )
    if row is None:
        session.add(ChannelCursor(account_id=account_id, key=key, value=value, updated_at=wall_now()))
    else:
        row.value = value
        row.updated_at = wall_now()
    session.flush()


def poll_now(runtime: Runtime, account_id: int) -> Any:
    """Run one poll of an account in this thread (the job handler and the admin's "poll now")."""
    with runtime.db.sessions() as session:
        account = get_account(session=session, account_id=account_id)
        kind = kind_of(account.kind)
    if kind.poll is None:
        raise Invalid(f"{kind.name} accounts receive pushes; there is nothing to poll")
    return kind.poll(runtime, account_id)


def install_adapters(runtime: Runtime) -> None:
    """Register the outbound adapter of every kind that has one. Each looks up its enabled
    accounts when it sends, so an account configured later is used at once by every process;
    with no account configured it records the reply like RecordOnlyAdapter."""
    for kind in kinds().values():
        if kind.adapter is not None:
            runtime.adapters.register(kind.adapter(runtime))
