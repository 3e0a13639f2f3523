"""Static files: our own CSS/JS from web/static at /static/, and htmx at /static/vendor/htmx.min.js
served from the `django-js-lib-htmx` wheel (a plain file in a package with no dependencies: located
with importlib.util.find_spec, nothing is imported), so no third-party JS lives in this repository."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from cuida.common.errors import NotFound

router = APIRouter(include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
CACHE = {"Cache-Control": "public, max-age=300"}
MEDIA = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}


@cache
def htmx_path() -> Path:
    spec = importlib.util.find_spec("js_lib_htmx")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / "static" / "htmx" / "htmx.min.js"
        if candidate.is_file():
            return candidate
    raise RuntimeError("htmx is missing: install the 'django-js-lib-htmx' package (a dependency of cuida)")


@router.get("/static/vendor/htmx.min.js")
def htmx() -> FileResponse:
    return FileResponse(htmx_path(), media_type="text/javascript", headers=CACHE)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    # One flat folder; names with a path separator or a leading dot are refused.
    path = STATIC_DIR / name
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise NotFound(f"no static file named {name!r}")
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"), headers=CACHE)
