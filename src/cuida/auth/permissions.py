"""Roles and scopes: what each kind of caller may do. Checked on the server for every route."""

from __future__ import annotations

ROLES = ("agent", "lead", "manager", "admin")

SCOPES = {
    "messages:write": "Post inbound messages (ingest).",
    "messages:read": "Read messages and search them.",
    "customers:read": "Read customer profiles and timelines.",
    "customers:write": "Create and edit customers and identities.",
    "customers:merge": "Merge two customer profiles.",
    "conversations:read": "Read conversations.",
    "conversations:write": "Assign, change status and priority, reply, add notes.",
    "events:read": "Read the event log and the live stream.",
    "triage:use": "Analyse texts and review reply drafts with the tone guard.",
    "triage:correct": "Correct the triage labels of a message (training data).",
    "contactability:read": "Ask whether a customer may be contacted (marketing and sales tools).",
    "goodwill:request": "Record goodwill gestures (granted within the role's authority).",
    "goodwill:decide": "Approve or reject goodwill gestures above someone else's authority.",
    "goodwill:report": "Read the goodwill report (cost against outcome).",
    "ratings:read": "Read customers' satisfaction ratings (CSAT) and the CSAT report.",
    "automation:manage": "Create, change and test automation rules and canned replies.",
    "routing:manage": "Set team routing modes, and other agents' presence and capacity.",
    "listening:read": "Read mentions, their forecasts and risk, and crisis alerts.",
    "listening:write": "Post engagement snapshots of mentions and acknowledge crisis alerts.",
    "listening:manage": "Close incidents and give their coordinated public answer (with private follow-ups).",
    "channels:manage": "Configure channel accounts (mailboxes, bots, feeds) and see their health.",
    "admin": "Agents, teams, tokens and the manual clock.",
}

_AGENT = {
    "messages:write",
    "messages:read",
    "customers:read",
    "customers:write",
    "conversations:read",
    "conversations:write",
    "events:read",
    "triage:use",
    "triage:correct",
    "contactability:read",
    "goodwill:request",
    "ratings:read",
    "listening:read",
    "listening:write",
}
# Leads and managers also run their teams: merges, goodwill decisions, automation and routing.
_LEAD = _AGENT | {
    "customers:merge",
    "goodwill:decide",
    "goodwill:report",
    "automation:manage",
    "routing:manage",
    "listening:manage",
}
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "agent": frozenset(_AGENT),
    "lead": frozenset(_LEAD),
    "manager": frozenset(_LEAD),
    "admin": frozenset(SCOPES),
}


def parse_scopes(text: str | list[str]) -> list[str]:
    items = text if isinstance(text, list) else [s for s in text.replace(",", " ").split() if s]
    unknown = [s for s in items if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not items:
        raise ValueError("give at least one scope")
    return sorted(set(items))
