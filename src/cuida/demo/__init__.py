"""Demo data and story replays."""
