"""HTTP: the app factory's pieces shared by every domain's routes."""
