"""board indexes: per-team counts and running SLA clocks read from indexes alone

Revision ID: 0020_board_indexes
Revises: 0019_feeds

At 100,000 conversations (bench/ui_latency.py) the board's per-team counts read every open
conversation's row for its team and risk (120 ms on SQLite, more when SQLite's planner preferred
the team index to avoid a sort); (team_id, status, risk_score) answers them from the index. The
running clocks past due (board SLA section and counts, inbox "overdue") had no index on their due
time: a partial index over running clocks only, carrying what the queries test, keeps it small.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_board_indexes"
down_revision = "0019_feeds"
branch_labels = None
depends_on = None

RUNNING = "met_at IS NULL AND cancelled_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_conversations_team_status_risk", "conversations", ["team_id", "status", "risk_score"])
    op.create_index(
        "ix_sla_clocks_running_due",
        "sla_clocks",
        ["due_at", "conversation_id", "breached_at", "paused_at"],
        sqlite_where=sa.text(RUNNING),
        postgresql_where=sa.text(RUNNING),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_running_due", table_name="sla_clocks")
    op.drop_index("ix_conversations_team_status_risk", table_name="conversations")
