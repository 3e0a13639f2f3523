"""goodwill

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)
MONEY = sa.Numeric(12, 2)

KINDS = ("refund", "replacement", "gift", "discount", "upgrade", "other")
# The defaults are repeated here (not imported from the service) so this migration never changes.
DEFAULTS = {
    "agent": ("50", "300"),
    "lead": ("300", "3000"),
    "manager": ("2000", "20000"),
    "admin": (None, None),
}


def upgrade() -> None:
    limits = op.create_table(
        "goodwill_limits",
        sa.Column("id", ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("per_gesture_limit", MONEY, nullable=True),
        sa.Column("per_month_limit", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goodwill_limits")),
        sa.UniqueConstraint("role", "kind", name=op.f("uq_goodwill_limits_role")),
    )
    op.bulk_insert(
        limits,
        [
            {
                "role": role,
                "kind": kind,
                "per_gesture_limit": Decimal(each) if each else None,
                "per_month_limit": Decimal(month) if month else None,
                "currency": "EUR",
            }
            for role, (each, month) in DEFAULTS.items()
            for kind in KINDS
        ],
    )
    op.create_table(
        "goodwill_gestures",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("cost", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by_agent_id", ID, nullable=True),
        sa.Column("requested_by_token_id", ID, nullable=True),
        sa.Column("requested_by_name", sa.String(length=200), nullable=True),
        sa.Column("requested_role", sa.String(length=16), nullable=True),
        sa.Column("decided_by_agent_id", ID, nullable=True),
        sa.Column("decided_by_token_id", ID, nullable=True),
        sa.Column("decided_by_name", sa.String(length=200), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("customer_value_before", sa.Numeric(14, 2), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("decided_at", T, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_goodwill_gestures_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_goodwill_gestures_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_goodwill_gestures_requested_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_token_id"],
            ["api_tokens.id"],
            name=op.f("fk_goodwill_gestures_requested_by_token_id_api_tokens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_goodwill_gestures_decided_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_token_id"],
            ["api_tokens.id"],
            name=op.f("fk_goodwill_gestures_decided_by_token_id_api_tokens"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goodwill_gestures")),
    )
    op.create_index("ix_goodwill_gestures_customer_id", "goodwill_gestures", ["customer_id"])
    op.create_index("ix_goodwill_gestures_created", "goodwill_gestures", ["created_at"])
    op.create_index("ix_goodwill_gestures_status", "goodwill_gestures", ["status"])


def downgrade() -> None:
    op.drop_table("goodwill_gestures")
    op.drop_table("goodwill_limits")
