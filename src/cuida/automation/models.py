"""Tables of the automation domain: rules, the record of each rule run, and canned replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class AutomationRule(Base):
    """When one of `triggers` happens and `conditions` hold, run `actions` (in order)."""

    __tablename__ = "automation_rules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=100)  # lower runs first; ties by id
    triggers: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    conditions: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    # True: a match ends the evaluation for this event (later rules are not looked at).
    stop_processing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AutomationRun(Base):
    """One rule that matched one trigger, with what it did. The unique (rule, key) pair is what
    makes a rule fire at most once per message (key "message:<id>") or per conversation change
    (key "event:<id>"), whatever retries happen."""

    __tablename__ = "automation_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("automation_rules.id", ondelete="SET NULL"))
    rule_name: Mapped[str] = mapped_column(String(200))  # kept when the rule is deleted or renamed
    trigger: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(80))
    event_id: Mapped[int | None] = mapped_column(BigId)
    message_id: Mapped[int | None] = mapped_column(BigId)
    conversation_id: Mapped[int | None] = mapped_column(BigId, index=True)
    matched: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("rule_id", "dedupe_key"),
        Index("ix_automation_runs_rule_at", "rule_id", "at"),
    )


class CannedReply(Base):
    """A reply template with {{customer.name}}-style variables, per language."""

    __tablename__ = "canned_replies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="es")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("name", "language"),)
