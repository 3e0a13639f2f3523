"""web chat widget

Revision ID: 0023_webchat
Revises: 0022_messaging_adapters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0023_webchat"
down_revision = "0022_messaging_adapters"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webchat_widgets",
        sa.Column("id", ID, nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("allowed_origins", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("theme", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("greeting", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("offline_behaviour", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_webchat_widgets_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_widgets")),
        sa.UniqueConstraint("public_key", name=op.f("uq_webchat_widgets_public_key")),
    )
    op.create_table(
        "webchat_visitors",
        sa.Column("id", ID, nullable=False),
        sa.Column("widget_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_seen_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["widget_id"],
            ["webchat_widgets.id"],
            name=op.f("fk_webchat_visitors_widget_id_webchat_widgets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_visitors")),
        sa.UniqueConstraint("handle", name=op.f("uq_webchat_visitors_handle")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_webchat_visitors_token_hash")),
    )
    op.create_index(op.f("ix_webchat_visitors_widget_id"), "webchat_visitors", ["widget_id"])
    op.create_table(
        "webchat_feed",
        sa.Column("id", ID, nullable=False),
        sa.Column("visitor_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_name", sa.String(length=300), nullable=True),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["webchat_visitors.id"],
            name=op.f("fk_webchat_feed_visitor_id_webchat_visitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_feed")),
        sa.UniqueConstraint("message_id", name=op.f("uq_webchat_feed_message_id")),
    )
    op.create_index("ix_webchat_feed_visitor_id", "webchat_feed", ["visitor_id", "id"])
    op.create_table(
        "webchat_rate_buckets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_webchat_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("webchat_rate_buckets")
    op.drop_index("ix_webchat_feed_visitor_id", table_name="webchat_feed")
    op.drop_table("webchat_feed")
    op.drop_index(op.f("ix_webchat_visitors_widget_id"), table_name="webchat_visitors")
    op.drop_table("webchat_visitors")
    op.drop_table("webchat_widgets")
