"""listening incidents

Revision ID: 0018_incidents
Revises: 0017_identity_suggestions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0018_incidents"
down_revision = "0017_identity_suggestions"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)
J = cuida.db.base.JsonDoc


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", ID, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", T, nullable=False),
        sa.Column("last_seen", T, nullable=False),
        sa.Column("mention_count", sa.Integer(), nullable=False),
        sa.Column("grouped_by", J, nullable=False),
        sa.Column("lead_mention_id", ID, nullable=True),
        sa.Column("metric", sa.String(length=32), nullable=True),
        sa.Column("forecast_final", sa.Float(), nullable=True),
        sa.Column("forecast_low", sa.Float(), nullable=True),
        sa.Column("forecast_high", sa.Float(), nullable=True),
        sa.Column("forecast_model", sa.String(length=200), nullable=True),
        sa.Column("reach", sa.Integer(), nullable=False),
        sa.Column("peak_reach", sa.Integer(), nullable=False),
        sa.Column("final_reach", sa.Integer(), nullable=True),
        sa.Column("public_answer", sa.Text(), nullable=True),
        sa.Column("answer_message_id", ID, nullable=True),
        sa.Column("answered_at", T, nullable=True),
        sa.Column("answered_by_name", sa.String(length=200), nullable=True),
        sa.Column("closed_at", T, nullable=True),
        sa.Column("closed_by_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        _fk("incidents", "lead_mention_id", "mentions", "SET NULL"),
        _fk("incidents", "answer_message_id", "messages", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_status_last_seen", "incidents", ["status", "last_seen"])
    op.create_table(
        "incident_mentions",
        sa.Column("mention_id", ID, nullable=False),
        sa.Column("incident_id", ID, nullable=True),
        sa.Column("joined_by", sa.String(length=200), nullable=True),
        sa.Column("terms", J, nullable=False),
        sa.Column("posted_at", T, nullable=False),
        sa.Column("created_at", T, nullable=False),
        _fk("incident_mentions", "mention_id", "mentions", "CASCADE"),
        _fk("incident_mentions", "incident_id", "incidents", "SET NULL"),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_incident_mentions")),
    )
    op.create_index("ix_incident_mentions_incident_id", "incident_mentions", ["incident_id"])
    op.create_index("ix_incident_mentions_posted_at", "incident_mentions", ["posted_at"])
    op.create_table(
        "incident_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("mention_id", ID, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("posted_at", T, nullable=False),
        _fk("incident_keys", "mention_id", "mentions", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_keys")),
        sa.UniqueConstraint("mention_id", "key", name=op.f("uq_incident_keys_mention_id_key")),
    )
    op.create_index("ix_incident_keys_key_posted", "incident_keys", ["key", "posted_at"])


def downgrade() -> None:
    op.drop_table("incident_keys")
    op.drop_table("incident_mentions")
    op.drop_table("incidents")
