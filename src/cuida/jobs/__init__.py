"""Background work: the queue (Huey), the consumers, and the reconciler."""
