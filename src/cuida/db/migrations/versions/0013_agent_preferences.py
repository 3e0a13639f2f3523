"""agents' notification preferences

Revision ID: 0013_agent_preferences
Revises: 0012_saved_filters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0013_agent_preferences"
# Chained on the latest migration present when it was written (0010); 0012_saved_filters, written
# at the same time, chains on this one, so the numbers are not in chain order.
down_revision = "0012_saved_filters"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_preferences",
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("notifications", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_preferences_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_preferences")),
    )


def downgrade() -> None:
    op.drop_table("agent_preferences")
