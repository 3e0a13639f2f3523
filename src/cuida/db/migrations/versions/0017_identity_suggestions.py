"""identity merge suggestions and undoable merges

Revision ID: 0017_identity_suggestions
Revises: 0016_channel_accounts
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import cuida.db.base

revision = "0017_identity_suggestions"
down_revision = "0016_channel_accounts"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = cuida.db.base.UtcDateTime(timezone=True)
JSON = cuida.db.base.JsonDoc

# The email rules as they were when this migration was written (frozen here on purpose: later
# changes to cuida.customers.identity must not change what this migration did).
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
_DOTS_IGNORED = {"gmail.com"}
_PLUS_SUBADDRESSING = {
    "gmail.com",
    "outlook.com",
    "outlook.es",
    "hotmail.com",
    "hotmail.es",
    "live.com",
    "icloud.com",
    "me.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "fastmail.com",
}


def _email_key(value: str) -> str:
    local, _, domain = value.rpartition("@")
    domain = _DOMAIN_ALIASES.get(domain, domain)
    if domain in _PLUS_SUBADDRESSING and "+" in local:
        local = local.split("+", 1)[0] or local
    if domain in _DOTS_IGNORED:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def _name_key(name: str | None) -> str | None:
    decomposed = unicodedata.normalize("NFKD", (name or "").lower())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[^\W_]+", folded))[:300] or None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=300), nullable=True))
        batch_op.create_index(batch_op.f("ix_customers_name_key"), ["name_key"], unique=False)
    op.create_index("ix_identities_value", "identities", ["value"], unique=False)
    op.create_table(
        "customer_merges",
        sa.Column("id", ID, nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("suggestion_id", ID, nullable=True),
        sa.Column("actor_type", sa.String(length=32), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("merged_at", T, nullable=False),
        sa.Column("undone_at", T, nullable=True),
        sa.Column("undone_by", ID, nullable=True),
        sa.Column("undone_by_name", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"], ["customers.id"], name=op.f("fk_customer_merges_target_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["customers.id"], name=op.f("fk_customer_merges_source_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    op.create_index("ix_customer_merges_target_id", "customer_merges", ["target_id"])
    op.create_index("ix_customer_merges_source_id", "customer_merges", ["source_id"])
    op.create_table(
        "merge_suggestions",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_a", ID, nullable=False),
        sa.Column("customer_b", ID, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_by_name", sa.String(length=200), nullable=True),
        sa.Column("decided_at", T, nullable=True),
        sa.Column("merge_id", ID, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_a"],
            ["customers.id"],
            name=op.f("fk_merge_suggestions_customer_a_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_b"],
            ["customers.id"],
            name=op.f("fk_merge_suggestions_customer_b_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_suggestions")),
        sa.UniqueConstraint(
            "customer_a", "customer_b", name=op.f("uq_merge_suggestions_customer_a_customer_b")
        ),
    )
    op.create_index("ix_merge_suggestions_customer_b", "merge_suggestions", ["customer_b"])
    op.create_index("ix_merge_suggestions_status_score", "merge_suggestions", ["status", "score"])
    _backfill()


def _backfill() -> None:
    """Existing rows under the new rules: folded names, and email identities re-keyed (gmail dots,
    +tags). Two existing identities that now mean one address stay apart and become a merge
    suggestion for an agent, never a silent merge."""
    bind = op.get_bind()
    for customer_id, name in bind.execute(
        sa.text("SELECT id, name FROM customers WHERE name IS NOT NULL")
    ).all():
        bind.execute(
            sa.text("UPDATE customers SET name_key = :k WHERE id = :id"),
            {"k": _name_key(name), "id": customer_id},
        )
    rows = bind.execute(
        sa.text("SELECT id, customer_id, value FROM identities WHERE channel = 'email'")
    ).all()
    owners = {value: customer_id for _, customer_id, value in rows}
    at = datetime.now(UTC)
    stamp: object = at.replace(tzinfo=None) if bind.dialect.name == "sqlite" else at
    for identity_id, customer_id, value in rows:
        key = _email_key(value)
        if key == value:
            continue
        owner = owners.get(key)
        if owner is None:
            bind.execute(
                sa.text("UPDATE identities SET value = :v WHERE id = :id"), {"v": key, "id": identity_id}
            )
            owners[key] = customer_id
            continue
        if owner == customer_id:
            continue
        a, b = sorted((int(owner), int(customer_id)))
        exists = bind.execute(
            sa.text("SELECT 1 FROM merge_suggestions WHERE customer_a = :a AND customer_b = :b"),
            {"a": a, "b": b},
        ).first()
        if exists:
            continue
        evidence = [
            {
                "kind": "same_email_address",
                "score": 0.95,
                "text": f"{value} and {key} are one mailbox",
                "data": {"value": key, "channel": "email"},
            }
        ]
        bind.execute(
            sa.text(
                "INSERT INTO merge_suggestions (customer_a, customer_b, score, evidence, status, created_at, "
                "updated_at) VALUES (:a, :b, 0.95, :evidence, 'pending', :at, :at)"
            ).bindparams(sa.bindparam("evidence", type_=JSON)),
            {"a": a, "b": b, "evidence": evidence, "at": stamp},
        )


def downgrade() -> None:
    op.drop_index("ix_merge_suggestions_status_score", table_name="merge_suggestions")
    op.drop_index("ix_merge_suggestions_customer_b", table_name="merge_suggestions")
    op.drop_table("merge_suggestions")
    op.drop_index("ix_customer_merges_source_id", table_name="customer_merges")
    op.drop_index("ix_customer_merges_target_id", table_name="customer_merges")
    op.drop_table("customer_merges")
    op.drop_index("ix_identities_value", table_name="identities")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_name_key"))
        batch_op.drop_column("name_key")
