"""sla: business calendars, policies, clocks

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    T = cuida.db.base.UtcDateTime(timezone=True)
    J = cuida.db.base.JsonDoc
    op.create_table(
        "business_calendars",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("hours", J, nullable=False),
        sa.Column("holidays", J, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_business_calendars_name")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("conditions", J, nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("calendar_id", ID, nullable=True),
        sa.Column("risk_factors", J, nullable=False),
        sa.Column("escalation", J, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["business_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_business_calendars"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_policies_name")),
    )
    op.create_table(
        "sla_clocks",
        sa.Column("id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("policy_id", ID, nullable=True),
        sa.Column("policy_name", sa.String(length=200), nullable=False),
        sa.Column("calendar", J, nullable=True),
        sa.Column("ladder", J, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("started_at", T, nullable=False),
        sa.Column("base_target_minutes", sa.Float(), nullable=False),
        sa.Column("target_minutes", sa.Float(), nullable=False),
        sa.Column("base_due_at", T, nullable=False),
        sa.Column("due_at", T, nullable=False),
        sa.Column("factor", sa.Float(), nullable=False),
        sa.Column("reasons", J, nullable=False),
        sa.Column("paused_at", T, nullable=True),
        sa.Column("paused_minutes", sa.Float(), nullable=False),
        sa.Column("met_at", T, nullable=True),
        sa.Column("cancelled_at", T, nullable=True),
        sa.Column("breached_at", T, nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("marks", J, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_sla_clocks_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_sla_clocks_policy_id_sla_policies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
        sa.UniqueConstraint("conversation_id", "kind", name=op.f("uq_sla_clocks_conversation_id_kind")),
    )


def downgrade() -> None:
    op.drop_table("sla_clocks")
    op.drop_table("sla_policies")
    op.drop_table("business_calendars")
