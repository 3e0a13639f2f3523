"""Full-text search over messages: SQLite FTS5 or a PostgreSQL GIN-indexed tsvector, both over
the same Python-stemmed `search_text`, so both databases find the same things."""

from __future__ import annotations

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from cuida.common.errors import Invalid
from cuida.conversations.models import Message
from cuida.search.text import terms


def message_query_terms(q: str) -> list[str]:
    words = [t for t in terms(q) if t][:12]
    if not words:
        raise Invalid("the search has no words to look for", field="q")
    return words


def _newest_matches(session: Session, q: str, limit: int, column: str) -> list[int]:
    """`column` ("id" or "conversation_id") of the newest messages matching every word of `q`."""
    words = message_query_terms(q)
    if session.get_bind().dialect.name == "postgresql":
        # Each word as a prefix, all required: 'reclam:* & factur:*'.
        tsquery = " & ".join(f"{w}:*" for w in words)
        query = text(
            f"SELECT {column} FROM messages "
            "WHERE to_tsvector('simple', search_text) @@ to_tsquery('simple', :q) "
            "ORDER BY occurred_at DESC, id DESC LIMIT :limit"
        )
        return list(session.scalars(query, {"q": tsquery, "limit": limit}))
    match = " AND ".join(f'"{w}"*' for w in words)
    # Newest first, as on PostgreSQL; walking the index by rowid stops at the limit, where
    # ORDER BY rank would score every match first (300 ms for a common word at 1M messages).
    query = text(
        f"SELECT m.{column} FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
        "WHERE messages_fts MATCH :q ORDER BY messages_fts.rowid DESC LIMIT :limit"
    )
    return list(session.scalars(query, {"q": match, "limit": limit}))


def search_messages(*, session: Session, q: str, limit: int = 20) -> list[Message]:
    ids = _newest_matches(session, q, limit, "id")
    if not ids:
        return []
    rows = session.scalars(
        select(Message).where(Message.id.in_(bindparam("ids", expanding=True))), {"ids": ids}
    )
    by_id = {m.id: m for m in rows}
    return [by_id[i] for i in ids if i in by_id]


def search_conversation_ids(*, session: Session, q: str, limit: int = 500) -> list[int]:
    """The conversations of the newest `limit` matching messages, without loading the messages
    (the inbox filters on these ids; reading 500 whole messages was most of a search's time)."""
    return sorted({i for i in _newest_matches(session, q, limit, "conversation_id") if i is not None})
