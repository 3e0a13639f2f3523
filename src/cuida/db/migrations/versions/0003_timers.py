"""timers, notifications, commitments

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

    T = cuida.db.base.UtcDateTime(timezone=True)
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("payload", cuida.db.base.JsonDoc, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("read_at", T, nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_notifications_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_notifications_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_notifications_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_agent_unread", "notifications", ["agent_id", "read_at"])
    op.create_table(
        "commitments",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_agent_id", ID, nullable=True),
        sa.Column("owner_team_id", ID, nullable=True),
        sa.Column("due_at", T, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("fulfilled_at", T, nullable=True),
        sa.Column("overdue_alerted_at", T, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_commitments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_commitments_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_commitments_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_agent_id"],
            ["agents.id"],
            name=op.f("fk_commitments_owner_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_commitments_owner_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
    )
    op.create_index("ix_commitments_customer_id", "commitments", ["customer_id"])
    op.create_index("ix_commitments_status_due", "commitments", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("commitments")
    op.drop_table("notifications")
    op.drop_index("ix_timers_pending_due", table_name="timers")
    op.drop_table("timers")
