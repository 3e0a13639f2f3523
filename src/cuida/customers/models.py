"""Customers and the channel identities that point at them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    company: Mapped[str | None] = mapped_column(String(300))
    lifetime_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    tier: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    # A merged-away profile keeps its row so old links and events still resolve.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Folded name (no case, accents or extra spaces): finds "same name + company" by index.
    name_key: Mapped[str | None] = mapped_column(String(300), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    identities: Mapped[list[Identity]] = relationship(
        back_populates="customer", lazy="selectin", order_by="Identity.id"
    )


class Identity(Base):
    """One way to reach or recognise a customer: a phone, an email, a handle on a network."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "value"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(320))
    display: Mapped[str | None] = mapped_column(String(320))
    followers: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    customer: Mapped[Customer] = relationship(back_populates="identities")


Index("ix_customers_updated", Customer.updated_at)
# A value written in a message (an address, a number, a handle) is looked up on every channel.
Index("ix_identities_value", Identity.value)


class CustomerMerge(Base):
    """One merge, with what it moved, so it can be undone exactly."""

    __tablename__ = "customer_merges"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # {"identities": [ids], "conversations": [ids], "messages": [ids], "filled": {field: value},
    #  "tags_added": [...], "attribute_keys_added": [...]}
    moved: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    suggestion_id: Mapped[int | None] = mapped_column(BigId)
    actor_type: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    merged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    undone_by: Mapped[int | None] = mapped_column(BigId)
    undone_by_name: Mapped[str | None] = mapped_column(String(200))


class MergeSuggestion(Base):
    """Two profiles that probably are one person, with the evidence, for an agent to decide.

    The pair is stored ordered (customer_a < customer_b) so it is unique whichever side found it."""

    __tablename__ = "merge_suggestions"
    __table_args__ = (UniqueConstraint("customer_a", "customer_b"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_a: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    customer_b: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    # [{"kind": ..., "score": 0.8, "text": "in words", "data": {...}}]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(BigId)
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    merge_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


Index("ix_merge_suggestions_status_score", MergeSuggestion.status, MergeSuggestion.score)
