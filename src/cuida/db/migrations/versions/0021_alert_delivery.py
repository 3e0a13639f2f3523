"""crisis alert delivery by email and webhook

Revision ID: 0021_alert_delivery
Revises: 0020_board_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0021_alert_delivery"
down_revision = "0020_board_indexes"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "listening_alert_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("agent_ids", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("recipients", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("webhooks", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", T, nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("sent_at", T, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["listening_alerts.id"],
            name=op.f("fk_listening_alert_deliveries_alert_id_listening_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_listening_alert_deliveries_account_id_channel_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_alert_deliveries")),
        sa.UniqueConstraint(
            "alert_id", "level", "step", name=op.f("uq_listening_alert_deliveries_alert_id_level_step")
        ),
    )
    op.create_index(
        "ix_listening_alert_deliveries_status_next",
        "listening_alert_deliveries",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_listening_alert_deliveries_status_next", table_name="listening_alert_deliveries")
    op.drop_table("listening_alert_deliveries")
