"""Alembic environment: runs on the connection handed over by cuida.db.migrate."""

from __future__ import annotations

from alembic import context

import cuida.db.models  # noqa: F401  (registers every table)
from cuida.db.base import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `cuida migrate`, which supplies the connection")
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
