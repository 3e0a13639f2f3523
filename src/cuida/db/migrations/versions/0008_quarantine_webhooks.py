"""quarantine and inbound webhook channels

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_webhooks",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("previous_secret", sa.String(length=200), nullable=True),
        sa.Column("previous_secret_until", T, nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("secret_rotated_at", T, nullable=True),
        sa.Column("disabled_at", T, nullable=True),
        sa.Column("last_success_at", T, nullable=True),
        sa.Column("last_error_at", T, nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_webhooks")),
        sa.UniqueConstraint("slug", name=op.f("uq_inbound_webhooks_slug")),
    )
    op.create_table(
        "inbound_webhook_signatures",
        sa.Column("id", ID, nullable=False),
        sa.Column("webhook_id", ID, nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("seen_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["inbound_webhooks.id"],
            name=op.f("fk_inbound_webhook_signatures_webhook_id_inbound_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_webhook_signatures")),
    )
    op.create_index(
        "uq_inbound_webhook_signatures_webhook_signature",
        "inbound_webhook_signatures",
        ["webhook_id", "signature"],
        unique=True,
    )
    op.create_index("ix_inbound_webhook_signatures_seen_at", "inbound_webhook_signatures", ["seen_at"])
    op.create_table(
        "quarantine",
        sa.Column("id", ID, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_ref", sa.String(length=300), nullable=True),
        sa.Column("webhook_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("preview", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", T, nullable=False),
        sa.Column("resolved_at", T, nullable=True),
        sa.Column("resolved_by", sa.String(length=300), nullable=True),
        sa.Column("message_ids", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["inbound_webhooks.id"],
            name=op.f("fk_quarantine_webhook_id_inbound_webhooks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index("ix_quarantine_status_id", "quarantine", ["status", "id"])
    op.create_index("ix_quarantine_source_id", "quarantine", ["source", "id"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_source_id", table_name="quarantine")
    op.drop_index("ix_quarantine_status_id", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("ix_inbound_webhook_signatures_seen_at", table_name="inbound_webhook_signatures")
    op.drop_index("uq_inbound_webhook_signatures_webhook_signature", table_name="inbound_webhook_signatures")
    op.drop_table("inbound_webhook_signatures")
    op.drop_table("inbound_webhooks")
