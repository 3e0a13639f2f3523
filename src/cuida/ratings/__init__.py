"""Ratings: the satisfaction survey (CSAT) sent after a resolution, its answers and report."""
