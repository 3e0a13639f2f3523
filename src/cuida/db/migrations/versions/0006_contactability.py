"""contactability: contact preferences, query log, pushed state, outbound webhooks

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)
JSON = cuida.db.base.JsonDoc


def upgrade() -> None:
    op.create_table(
        "contact_preferences",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("opted_out_at", T, nullable=True),
        sa.Column("opted_in_at", T, nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_contact_preferences_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_preferences")),
        sa.UniqueConstraint(
            "customer_id", "purpose", name=op.f("uq_contact_preferences_customer_id_purpose")
        ),
    )
    op.create_table(
        "contactability_queries",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", T, nullable=False),
        sa.Column("principal_type", sa.String(length=16), nullable=False),
        sa.Column("principal_id", ID, nullable=True),
        sa.Column("principal_name", sa.String(length=300), nullable=True),
        sa.Column("identity", sa.String(length=400), nullable=True),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("contactable", sa.Boolean(), nullable=True),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("until", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contactability_queries")),
    )
    op.create_index("ix_contactability_queries_customer_at", "contactability_queries", ["customer_id", "at"])
    op.create_table(
        "contactability_state",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("contactable", sa.Boolean(), nullable=False),
        sa.Column("until", T, nullable=True),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("computed_at", T, nullable=False),
        sa.Column("pushed_at", T, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_contactability_state_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "purpose", name=op.f("pk_contactability_state")),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", T, nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("sent_at", T, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_subscription_status", "webhook_deliveries", ["subscription_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_subscription_status", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    op.drop_table("contactability_state")
    op.drop_index("ix_contactability_queries_customer_at", table_name="contactability_queries")
    op.drop_table("contactability_queries")
    op.drop_table("contact_preferences")
