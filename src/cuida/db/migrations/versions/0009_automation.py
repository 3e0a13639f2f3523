"""automation rules, canned replies, routing (agent presence and capacity, team routing)

Revision ID: 0009_automation
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0009_automation"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)
JSON = cuida.db.base.JsonDoc


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("triggers", JSON, nullable=False),
        sa.Column("conditions", JSON, nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("stop_processing", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_automation_rules_name")),
    )
    op.create_table(
        "automation_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("rule_id", ID, nullable=True),
        sa.Column("rule_name", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=80), nullable=False),
        sa.Column("event_id", ID, nullable=True),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("matched", JSON, nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["automation_rules.id"],
            name=op.f("fk_automation_runs_rule_id_automation_rules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint("rule_id", "dedupe_key", name=op.f("uq_automation_runs_rule_id")),
    )
    op.create_index("ix_automation_runs_rule_at", "automation_runs", ["rule_id", "at"])
    op.create_index(op.f("ix_automation_runs_conversation_id"), "automation_runs", ["conversation_id"])
    op.create_table(
        "canned_replies",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
        sa.UniqueConstraint("name", "language", name=op.f("uq_canned_replies_name")),
    )
    op.create_table(
        "team_routing",
        sa.Column("team_id", ID, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("last_agent_id", ID, nullable=True),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_routing_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["last_agent_id"],
            ["agents.id"],
            name=op.f("fk_team_routing_last_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_routing")),
    )
    # New columns with server defaults, so existing rows are filled (SQLite adds them in place).
    op.add_column("agents", sa.Column("away", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("agents", sa.Column("capacity", sa.Integer(), nullable=True))
    op.add_column("conversations", sa.Column("tags", JSON, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("tags")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("capacity")
        batch.drop_column("away")
    op.drop_table("team_routing")
    op.drop_table("canned_replies")
    op.drop_index(op.f("ix_automation_runs_conversation_id"), table_name="automation_runs")
    op.drop_index("ix_automation_runs_rule_at", table_name="automation_runs")
    op.drop_table("automation_runs")
    op.drop_table("automation_rules")
