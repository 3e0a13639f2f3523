"""ui indexes: messages newest first, for the inbox search on PostgreSQL

Revision ID: 0015_ui_indexes
Revises: 0014_listening

A common word matches a large share of the messages (bench/ui_latency.py: "factura" matches 16% of
1,000,000); without this index PostgreSQL re-checks and sorts every match (2 s). With it the planner
walks the messages newest first and stops at the search's limit, and still takes the GIN index for
rare words.
"""

from __future__ import annotations

from alembic import op

revision = "0015_ui_indexes"
down_revision = "0014_listening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_occurred", "messages", ["occurred_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_occurred", table_name="messages")
