"""brand listening feeds and imports

Revision ID: 0019_feeds
Revises: 0018_incidents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0019_feeds"
down_revision = "0018_incidents"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)
J = cuida.db.base.JsonDoc


def upgrade() -> None:
    op.create_table(
        "listening_terms",
        sa.Column("id", ID, nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("term_key", sa.String(length=200), nullable=False),
        sa.Column("exclusions", J, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_terms")),
        sa.UniqueConstraint("term_key", name=op.f("uq_listening_terms_term_key")),
    )
    op.create_table(
        "listening_feeds",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=200), nullable=True),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("last_polled_at", T, nullable=True),
        sa.Column("last_success_at", T, nullable=True),
        sa.Column("last_error_at", T, nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("entries_seen", sa.Integer(), nullable=False),
        sa.Column("mentions_kept", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", T, nullable=True),
        sa.Column("poll_lease_until", T, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_feeds")),
        sa.UniqueConstraint("url", name=op.f("uq_listening_feeds_url")),
    )
    op.create_index("ix_listening_feeds_enabled_next_poll_at", "listening_feeds", ["enabled", "next_poll_at"])


def downgrade() -> None:
    op.drop_index("ix_listening_feeds_enabled_next_poll_at", table_name="listening_feeds")
    op.drop_table("listening_feeds")
    op.drop_table("listening_terms")
