"""Timers: things that must happen at a moment (an SLA warning, a breach, a promise falling due).
Stored in the database and fired by the reconciler, so they survive restarts and fire once."""
