"""channel accounts and the email channel

Revision ID: 0016_channel_accounts
Revises: 0015_ui_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0016_channel_accounts"
down_revision = "0015_ui_indexes"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("secrets", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.Column("last_success_at", T, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", T, nullable=True),
        sa.Column("backlog", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", T, nullable=True),
        sa.Column("poll_lease_until", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_channel_accounts_name")),
    )
    op.create_index("ix_channel_accounts_kind_enabled", "channel_accounts", ["kind", "enabled"])
    op.create_table(
        "channel_cursors",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("value", cuida.db.base.JsonDoc, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_channel_cursors_account_id_channel_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_cursors")),
    )
    op.create_index("uq_channel_cursors_account_key", "channel_cursors", ["account_id", "key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_channel_cursors_account_key", table_name="channel_cursors")
    op.drop_table("channel_cursors")
    op.drop_index("ix_channel_accounts_kind_enabled", table_name="channel_accounts")
    op.drop_table("channel_accounts")
