"""Quarantine: inbound payloads that could not be parsed, kept with the reason, never lost."""
