"""Cutting the quoted part off a reply, for Spanish and English mail clients: what the customer
wrote now is what triage and agents read; the whole text stays in the raw email."""

from __future__ import annotations

import re

# Where a client starts quoting: the attribution line (Gmail, Apple Mail, Thunderbird; may wrap
# onto a second line), Outlook's separator or its header block, and the signature delimiter.
_MARKERS = [
    re.compile(r"^[ \t]*El\b[^\n]{0,300}(?:\n[^\n]{0,300})?\bescribi[oó]\s*:[ \t]*$", re.M | re.I),
    re.compile(r"^[ \t]*On\b[^\n]{0,300}(?:\n[^\n]{0,300})?\bwrote\s*:[ \t]*$", re.M | re.I),
    re.compile(
        r"^[ \t]*-{3,}\s*(?:Mensaje original|Original Message|Mensaje reenviado)\s*-{3,}[ \t]*$", re.M | re.I
    ),
    re.compile(r"^[ \t]*_{20,}[ \t]*$", re.M),
    re.compile(
        r"^[ \t]*(?:De|From)\s*:[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*(?:Enviado|Sent|Fecha|Date)\s*:", re.M
    ),
    re.compile(r"^-- $", re.M),
]
_QUOTED_LINE = re.compile(r"^[ \t]*>")


def strip_quoted(text: str) -> tuple[str, int]:
    """(what is new, number of characters cut). A message that is all quote is kept whole."""
    normalised = text.replace("\r\n", "\n")
    cut = len(normalised)
    for marker in _MARKERS:
        found = marker.search(normalised)
        if found and found.start() < cut:
            cut = found.start()
    head = normalised[:cut]
    kept = "\n".join(line for line in head.split("\n") if not _QUOTED_LINE.match(line))
    kept = re.sub(r"\n{3,}", "\n\n", kept).strip()
    if not kept:
        return normalised.strip(), 0
    return kept, max(0, len(normalised.strip()) - len(kept))
