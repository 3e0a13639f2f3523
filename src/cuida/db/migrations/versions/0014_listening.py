"""listening: mentions, their engagement snapshots, and crisis alerts

Revision ID: 0014_listening
Revises: 0013_agent_preferences
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0014_listening"
# Chained on the head of the chain when this was written (0010 -> 0013 -> 0012; 0011 was still being
# written by another helper); the lead re-chains it if needed.
down_revision = "0013_agent_preferences"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)
J = cuida.db.base.JsonDoc


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "mentions",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("author", sa.String(length=320), nullable=True),
        sa.Column("author_followers", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("triage", J, nullable=False),
        sa.Column("posted_at", T, nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=True),
        sa.Column("counts", J, nullable=False),
        sa.Column("snapshot_count", sa.Integer(), nullable=False),
        sa.Column("last_snapshot_at", T, nullable=True),
        sa.Column("forecast_final", sa.Float(), nullable=True),
        sa.Column("forecast_low", sa.Float(), nullable=True),
        sa.Column("forecast_high", sa.Float(), nullable=True),
        sa.Column("forecast_model", sa.String(length=200), nullable=True),
        sa.Column("forecast_made_at", T, nullable=True),
        sa.Column("forecast_observed", sa.Integer(), nullable=True),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("risk_reasons", J, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        _fk("mentions", "message_id", "messages", "CASCADE"),
        _fk("mentions", "customer_id", "customers", "SET NULL"),
        _fk("mentions", "conversation_id", "conversations", "SET NULL"),
        _fk("mentions", "case_id", "conversations", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mentions_message_id")),
    )
    op.create_index("ix_mentions_customer_id", "mentions", ["customer_id"])
    op.create_index("ix_mentions_conversation_id", "mentions", ["conversation_id"])
    op.create_index("ix_mentions_case_id", "mentions", ["case_id"])
    op.create_index("ix_mentions_created", "mentions", ["created_at"])
    op.create_index("ix_mentions_forecast", "mentions", ["forecast_final"])
    op.create_table(
        "mention_snapshots",
        sa.Column("id", ID, nullable=False),
        sa.Column("mention_id", ID, nullable=False),
        sa.Column("observed_at", T, nullable=False),
        sa.Column("counts", J, nullable=False),
        sa.Column("created_at", T, nullable=False),
        _fk("mention_snapshots", "mention_id", "mentions", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mention_snapshots")),
        sa.UniqueConstraint("mention_id", "observed_at", name=op.f("uq_mention_snapshots_mention_id")),
    )
    op.create_table(
        "listening_alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mention_id", ID, nullable=True),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("reasons", J, nullable=False),
        sa.Column("details", J, nullable=False),
        sa.Column("notified", J, nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("raised_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.Column("acknowledged_at", T, nullable=True),
        sa.Column("acknowledged_by_agent_id", ID, nullable=True),
        sa.Column("acknowledged_by_name", sa.String(length=200), nullable=True),
        _fk("listening_alerts", "mention_id", "mentions", "SET NULL"),
        _fk("listening_alerts", "conversation_id", "conversations", "SET NULL"),
        _fk("listening_alerts", "customer_id", "customers", "SET NULL"),
        _fk("listening_alerts", "acknowledged_by_agent_id", "agents", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_alerts")),
        sa.UniqueConstraint("key", name=op.f("uq_listening_alerts_key")),
    )
    op.create_index("ix_listening_alerts_mention_id", "listening_alerts", ["mention_id"])
    op.create_index("ix_listening_alerts_status_updated", "listening_alerts", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_table("listening_alerts")
    op.drop_table("mention_snapshots")
    op.drop_table("mentions")
