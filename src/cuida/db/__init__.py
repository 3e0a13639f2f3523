"""Storage: the engine, sessions, the declarative base and migrations."""

from cuida.db.base import Base
from cuida.db.engine import Database, DatabaseUnavailable

__all__ = ["Base", "Database", "DatabaseUnavailable"]
