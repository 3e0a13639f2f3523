"""Customers and the channel identities that point at them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
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
