"""/docs: Swagger UI for the API's OpenAPI document, served from the package (static/swagger/,
vendored from swagger-ui-dist) under the dashboard's Content-Security-Policy, instead of FastAPI's
default page, which loads its script and stylesheet from a CDN without integrity pinning."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.api.errors import ApiError
from services.api.ui.router import POLICY, REVALIDATE, serve

#: What /docs/{name} serves: the page's own files, not everything under static/.
FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "init.js"})

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs(request: Request) -> Response:
    """The Swagger UI page. Every URL in it is relative (the page is at the API's root), so it
    works behind a path prefix as the dashboard does."""
    openapi = (request.app.openapi_url or "/openapi.json").lstrip("/")
    title = html.escape(f"{request.app.title} API")
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
<script defer src="docs/swagger-ui-bundle.js"></script>
<script defer src="docs/init.js"></script>
</head>
<body>
<div id="swagger-ui" data-openapi="{html.escape(openapi)}"><noscript>Swagger UI needs JavaScript; the API's
OpenAPI document is at <a href="{html.escape(openapi)}">{html.escape(openapi)}</a>.</noscript></div>
</body>
</html>
"""
    headers = {
        "Content-Security-Policy": POLICY,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": REVALIDATE,
    }
    return Response(page, headers=headers, media_type="text/html; charset=utf-8")


@router.get("/docs/{name}")
async def docs_file(request: Request, name: str) -> Response:
    """Swagger UI's script and stylesheet, and the script that starts it. Revalidated by ETag
    rather than cached for good: their names carry no hash of their content."""
    if name not in FILES:
        raise ApiError(404, "not_found", f"no docs file {name}")
    return serve(request, f"swagger/{name}", REVALIDATE, {"X-Content-Type-Options": "nosniff"})
