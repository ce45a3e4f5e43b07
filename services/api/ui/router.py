"""/ui: the dashboard's page, its content-hashed assets, and /ui/whoami (the caller's role).

Every URL the page uses is relative (the API root is `../` from `/ui/`), so the dashboard works
behind any path prefix without knowing it; nothing here reads `root_path` or forwarded headers.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.api.auth import Principal
from services.api.deps import AnyRole, StateDep
from services.api.errors import ApiError
from services.api.routes import views

STATIC = Path(__file__).with_name("static")
INDEX = "index.html"
#: The page may load only what dtq serves: no CDN, no fonts or scripts from elsewhere.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
REVALIDATE = "no-cache"
FOREVER = "public, max-age=31536000, immutable"  # asset names carry a hash of their content

router = APIRouter(prefix="/ui", include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Asset:
    """A file of the built dashboard, kept in memory, plain and gzipped."""

    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


@functools.cache
def assets(root: Path = STATIC) -> dict[str, Asset]:
    """Every built file by its path under `root` (read once, on the first request)."""
    found: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type.endswith("javascript"):
                media_type += "; charset=utf-8"
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            found[path.relative_to(root).as_posix()] = Asset(body, gzip.compress(body, 9, mtime=0), media_type, etag)
    return found


def serve(request: Request, name: str, cache: str, headers: dict[str, str] | None = None) -> Response:
    """One asset, gzipped when the client accepts it, 304 when its ETag still matches."""
    asset = assets().get(name)
    if asset is None:
        if name == INDEX:
            raise ApiError(503, "ui_not_built", "the dashboard's assets are missing; build them with `make ui`")
        raise ApiError(404, "not_found", f"no dashboard asset {name}")
    common = {"ETag": asset.etag, "Cache-Control": cache, "Vary": "Accept-Encoding", **(headers or {})}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=common)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(asset.gzipped, headers={**common, "Content-Encoding": "gzip"}, media_type=asset.media_type)
    return Response(asset.body, headers=common, media_type=asset.media_type)


@router.get("")
async def to_page() -> Response:
    """`/ui` to `/ui/` with a relative Location, so a path prefix in front of the API survives."""
    return Response(status_code=308, headers={"Location": "ui/"})


@router.get("/")
async def page(request: Request) -> Response:
    """The dashboard (one page; its routes live in the URL fragment)."""
    headers = {"Content-Security-Policy": POLICY, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
    return serve(request, INDEX, REVALIDATE, headers)


@router.get("/assets/{name}")
async def asset(request: Request, name: str) -> Response:
    """A built script or stylesheet."""
    return serve(request, f"assets/{name}", FOREVER, {"X-Content-Type-Options": "nosniff"})


@router.get("/whoami")
async def whoami(state: StateDep, principal: Annotated[Principal, AnyRole]) -> Response:
    """The caller's role (producer, viewer or admin), and whether the API checks tokens at all."""
    return views.json({"role": principal.role.value, "auth": not state.tokens.open})
