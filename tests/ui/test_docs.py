"""/docs over ASGI (no browser): Swagger UI from the package, not a CDN, under the dashboard's
Content-Security-Policy, with no inline script; every file it references is served."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.api.conftest import TOKENS, ApiFactory

SWAGGER = Path(__file__).resolve().parents[2] / "services" / "api" / "ui" / "static" / "swagger"


async def test_docs_serve_only_their_own_same_origin_files_under_the_dashboards_policy(api: httpx.AsyncClient) -> None:
    page = await api.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == (await api.get("/ui/")).headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]  # no inline scripts may run
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "cdn.jsdelivr.net" not in page.text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts and all('src="' in attributes and not body.strip() for attributes, body in scripts), scripts
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(not link.startswith(("/", "http:", "https:", "//")) for link in links), links
    files = [link for link in links if link.startswith("docs/")]
    assert {Path(f).name for f in files} == {"swagger-ui.css", "swagger-ui-bundle.js", "init.js"}
    for link in files:
        served = await api.get(f"/{link}", headers={"Accept-Encoding": "identity"})
        assert served.status_code == 200, link
        assert served.content == (SWAGGER / Path(link).name).read_bytes()
        media_type = served.headers["content-type"].split(";")[0]
        assert media_type == ("text/css" if link.endswith(".css") else "text/javascript"), (link, media_type)
        again = await api.get(f"/{link}", headers={"If-None-Match": served.headers["etag"]})
        assert again.status_code == 304
    openapi = re.search(r'data-openapi="([^"]+)"', page.text)
    assert openapi is not None and openapi.group(1) == "openapi.json"  # relative, like the page's files
    assert (await api.get(f"/{openapi.group(1)}")).json()["info"]["title"] == "dtq"
    for name in ("README.md", "LICENSE", "index.html", "..%2Findex.html", "nope.js"):  # and nothing else
        response = await api.get(f"/docs/{name}")
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "not_found"


async def test_docs_are_public_like_the_openapi_document(make_api: ApiFactory) -> None:
    secured = await make_api(api={"tokens": TOKENS})
    assert (await secured.get("/docs")).status_code == 200
    assert (await secured.get("/docs/init.js")).status_code == 200
    assert (await secured.get("/openapi.json")).status_code == 200
    paths = (await secured.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/docs")]
