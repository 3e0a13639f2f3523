"""Notifications to agents: escalations, promises falling due, flags for leads."""
