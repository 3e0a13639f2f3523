"""The Huey instance: SQLite file embedded, Redis when CUIDA_REDIS_URL is set."""

from __future__ import annotations

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from cuida.settings import Settings

QUEUE_NAME = "cuida"


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    if immediate:
        # Tests: run each job inside the enqueue call.
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False)
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url, blocking=True, read_timeout=1, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(settings.queue_path), timeout=30, results=False)


def check_queue(huey: Huey) -> str:
    """Reach the queue once; return a description or raise RuntimeError saying why not."""
    try:
        pending = huey.pending_count()
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(f"cannot reach the work queue ({type(huey).__name__}): {reason}") from None
    return f"{type(huey).__name__}, {pending} jobs waiting"
