"""An agent's own preferences: which notifications reach them, and where."""
