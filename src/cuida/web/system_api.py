"""Health: the one JSON route open to anyone."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cuida import __version__
from cuida.jobs.queue import check_queue
from cuida.runtime import Runtime
from cuida.web.deps import get_runtime

router = APIRouter(prefix="/api/v1", tags=["system"])


def _health(runtime: Runtime) -> tuple[bool, dict[str, Any]]:
    body: dict[str, Any] = {"version": __version__, "python": sys.version.split()[0]}
    ok = True
    try:
        body["database"] = {"ok": True, "engine": runtime.db.dialect, "version": runtime.db.check()}
    except Exception as exc:
        ok = False
        body["database"] = {"ok": False, "error": str(exc)}
    try:
        body["queue"] = {"ok": True, "detail": check_queue(runtime.huey)}
    except Exception as exc:
        ok = False
        body["queue"] = {"ok": False, "error": str(exc)}
    body["status"] = "ok" if ok else "degraded"
    return ok, body


@router.get("/health")
async def health(runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    """Database and queue reachable, and versions. 503 when either is not."""
    ok, body = await run_in_threadpool(_health, runtime)
    return JSONResponse(body, status_code=200 if ok else 503)
