"""inbox saved filters and sort indexes

Revision ID: 0012_saved_filters
Revises: 0010_ratings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0012_saved_filters"
# Chained on the latest migration present when this was written; the lead re-chains it when
# 0009-0013 (written at the same time by other helpers) land.
down_revision = "0010_ratings"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "saved_filters",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("params", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_saved_filters_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
    )
    op.create_index(op.f("ix_saved_filters_agent_id"), "saved_filters", ["agent_id"], unique=False)
    # The inbox's sorts (see cuida.inbox.models).
    op.create_index(
        "ix_conversations_inbox_priority",
        "conversations",
        [sa.text("priority DESC"), sa.text("risk_score DESC"), "last_message_at"],
    )
    op.create_index("ix_conversations_inbox_activity", "conversations", [sa.text("last_message_at DESC")])
    op.create_index("ix_conversations_inbox_age", "conversations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_inbox_age", table_name="conversations")
    op.drop_index("ix_conversations_inbox_activity", table_name="conversations")
    op.drop_index("ix_conversations_inbox_priority", table_name="conversations")
    op.drop_index(op.f("ix_saved_filters_agent_id"), table_name="saved_filters")
    op.drop_table("saved_filters")
