"""timers

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("due_at", cuida.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("payload", cuida.db.base.JsonDoc, nullable=True),
        sa.Column("created_at", cuida.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("fired_at", cuida.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", cuida.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_timers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.UniqueConstraint("key", name=op.f("uq_timers_key")),
    )
    op.create_index(
        "ix_timers_pending_due",
        "timers",
        ["due_at"],
        sqlite_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_timers_pending_due", table_name="timers")
    op.drop_table("timers")
