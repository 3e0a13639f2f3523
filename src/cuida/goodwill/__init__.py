"""Goodwill gestures within each agent's authority, with their cost and what they earned."""
