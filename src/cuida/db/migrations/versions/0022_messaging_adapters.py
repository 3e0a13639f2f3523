"""telegram and whatsapp adapters

Revision ID: 0022_messaging_adapters
Revises: 0021_alert_delivery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0022_messaging_adapters"
down_revision = "0021_alert_delivery"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "delivery_receipts",
        sa.Column("id", ID, nullable=False),
        sa.Column("delivery_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_receipts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_receipts")),
    )
    op.create_index(
        "uq_delivery_receipts_delivery_status", "delivery_receipts", ["delivery_id", "status"], unique=True
    )
    # Status webhooks and replies to our messages name what we sent by the provider's id.
    op.create_index("ix_deliveries_channel_provider_id", "deliveries", ["channel", "provider_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_channel_provider_id", table_name="deliveries")
    op.drop_index("uq_delivery_receipts_delivery_status", table_name="delivery_receipts")
    op.drop_table("delivery_receipts")
