"""Automation rules: conditions on messages and conversations, actions, and canned replies."""
