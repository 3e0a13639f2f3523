"""Routing: picking the agent of a team who takes a conversation."""
