"""The /ui router over ASGI (no browser): the page, its assets, caching, the prefix-safe
redirect, and whoami for each kind of caller."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import ADMIN_TOKEN, PRODUCER_TOKEN, TOKENS, VIEWER_TOKEN, ApiFactory, bearer


async def test_the_page_links_only_relative_same_origin_assets(api: httpx.AsyncClient) -> None:
    page = await api.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(not link.startswith(("/", "http:", "https:", "//")) for link in links), links
    for link in (link for link in links if link.startswith("assets/")):
        asset = await api.get(f"/ui/{link}", headers={"Accept-Encoding": "identity"})
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
        assert asset.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript", "text/css")
        assert b"https://" not in asset.content.replace(b"https://github.com/leeoniya/uPlot", b"")


async def test_ui_redirects_relatively_so_a_path_prefix_survives(api: httpx.AsyncClient) -> None:
    response = await api.get("/ui")
    assert response.status_code == 308
    assert response.headers["location"] == "ui/"


async def test_assets_are_gzipped_on_request_and_revalidated_by_etag(api: httpx.AsyncClient) -> None:
    plain = await api.get("/ui/", headers={"Accept-Encoding": "identity"})
    zipped = await api.get("/ui/", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip"
    assert zipped.text == plain.text  # httpx decodes it
    assert zipped.num_bytes_downloaded < len(plain.content)
    again = await api.get("/ui/", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_unknown_assets_are_404_in_the_api_error_shape(api: httpx.AsyncClient) -> None:
    response = await api.get("/ui/assets/nope.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert (await api.get("/ui/assets/..%2F..%2Frouter.py")).status_code == 404


async def test_whoami_on_an_open_api_is_admin(api: httpx.AsyncClient) -> None:
    response = await api.get("/ui/whoami")
    assert response.json() == {"role": "admin", "auth": False}


async def test_whoami_names_the_token_role(make_api: ApiFactory) -> None:
    secured = await make_api(api={"tokens": TOKENS})
    assert (await secured.get("/ui/whoami")).status_code == 401
    assert (await secured.get("/ui/whoami", headers=bearer("x" * 20))).status_code == 401
    admin = await secured.get("/ui/whoami", headers=bearer(ADMIN_TOKEN))
    assert admin.json() == {"role": "admin", "auth": True}
    producer = await secured.get("/ui/whoami", headers=bearer(PRODUCER_TOKEN))
    assert producer.json() == {"role": "producer", "auth": True}
    viewer = await secured.get("/ui/whoami", headers=bearer(VIEWER_TOKEN))
    assert viewer.json() == {"role": "viewer", "auth": True}
    assert (await secured.get("/ui/")).status_code == 200  # the page itself is public: it holds no data


async def test_the_dashboard_is_not_part_of_the_openapi_document(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]
