"""A Kubernetes API server for tests: kmock 0.8's emulator plus what kopf, the client and kubectl need.

Stock `kmock.KubernetesEmulator` keeps objects in memory and serves list/watch/get/create/patch/
delete. What it lacks, and this subclass adds (pinned to kmock 0.8, whose internals it uses):

* `/api/v1/namespaces[/NAME]` as a cluster-scoped resource (kmock's path parser fails on it,
  and kopf cannot start without listing namespaces);
* metadata a real server fills on create (namespace, uid, resourceVersion, creationTimestamp,
  generation, kind/apiVersion), a new resourceVersion on every change (kopf waits for the
  version it patched to come back), `generation` bumped on spec changes;
* optimistic concurrency: a patch or PUT carrying a stale `metadata.resourceVersion` gets 409;
* 201 on create, PUT (replace) on objects and on `/status` and `/scale`;
* `/status` that only changes the status, `/scale` served as an `autoscaling/v1` Scale;
* a created CustomResourceDefinition makes its resource discoverable and is `Established`;
* `kind`/`apiVersion` on lists, Kubernetes reason words on errors, `/version/`, core discovery
  saying `groupVersion: v1`;
* server-side Table rendering with a CRD's `additionalPrinterColumns`, so `kubectl get` prints
  the columns.

`EmulatorThread` serves it over HTTP from a thread with its own event loop, so kopf (another
thread) and the blocking `kubernetes` client (the test's thread) can both talk to it.

Every request is recorded (the tests check them against the chart's RBAC), and kmock finds a
request's reaction by scanning the recorded ones: a request costs more the more came before it.
Poll in tight loops with `EmulatorThread.call()`, which reads the state without a request.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import importlib.resources
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import jsonpointer
import kmock
import yaml

T = TypeVar("T")

NAMESPACES = kmock.resource("", "v1", "namespaces")
CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES_PATH = re.compile(r"/api/v1/namespaces(?:/(?P<name>[^/]+))?/?")
ALL_VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
# Kubernetes' own words for error statuses (clients test `reason`, not only the code).
REASONS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 409: "AlreadyExists", 422: "Invalid"}
KNOWN_REASONS = {*REASONS.values(), "Conflict", "InternalError"}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_version(resource: kmock.resource) -> str:
    return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)


def conflict(resource: kmock.resource, name: str | None) -> kmock.KubernetesError:
    return kmock.KubernetesError(
        status=409,
        reason="Conflict",
        message=f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details={"name": name, "kind": resource.plural},
    )


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """An in-memory Kubernetes API close enough to a real one for kopf, the client and kubectl."""

    _version_counter: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _latest_version: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock's own load_bundled() calls a deprecated importlib.resources function
        bundled = importlib.resources.files("kmock._internal").joinpath("resources.json.gz").read_bytes()
        self.resources.load_data(gzip.decompress(bundled))
        self.fallback["get /version/"] << self._serve_server_version

    # --- requests kmock cannot parse ------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        match = NAMESPACES_PATH.fullmatch(raw_request.path)
        if match is None:
            return await super().__call__(raw_request)
        request = await self._namespace_request(raw_request, match["name"])
        self._requests.append(request)
        try:
            return await self._handle(request)
        except Exception as exc:
            return await self._render_error(exc)

    async def _namespace_request(self, raw: aiohttp.web.BaseRequest, name: str | None) -> kmock.Request:
        body = await raw.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        params = dict(raw.query)
        method = raw.method.upper()
        if method == "GET":
            action = kmock.action.WATCH if params.get("watch") in {"true", "1"} else (
                kmock.action.FETCH if name else kmock.action.LIST)  # fmt: skip
        else:
            action = {"POST": kmock.action.CREATE, "PATCH": kmock.action.UPDATE, "DELETE": kmock.action.DELETE}.get(
                method
            )
        return kmock.Request(
            id=len(self._requests), raw_request=raw, url=raw.url, method=raw.method, params=params,
            headers=dict(raw.headers), cookies=dict(raw.cookies), body=body, text=body.decode(errors="replace"),
            data=data, action=action, resource=NAMESPACES, namespace=None, name=name,
        )  # fmt: skip

    # --- state changes ---------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is None:
            return await super()._handle(request)
        if request.method == "PUT" and request.name:
            return await self._replace(request)
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            request = self._amend(request, self._created(request))
        elif request.action == kmock.action.UPDATE and request.name and request.data is not None:
            request = self._amend(request, self._patch_for(request))
        response = await super()._handle(request)
        if request.action == kmock.action.CREATE and not response.prepared and response.status == 200:
            response.set_status(201)
        return response

    def _amend(self, request: kmock.Request, data: Any) -> kmock.Request:
        """The request with the body to apply; it replaces the recorded one (kmock matches by identity)."""
        amended = attrs.evolve(request, data=data)
        for index in range(len(self._requests) - 1, -1, -1):
            if self._requests[index] is request:
                self._requests[index] = amended
                break
        return amended

    def _next_version(self) -> str:
        self._latest_version = next(self._version_counter)
        return str(self._latest_version)

    def _created(self, request: kmock.Request) -> dict[str, Any]:
        """The body to store for a create: the metadata and type a real server fills in."""
        assert request.resource is not None
        data = copy.deepcopy(request.data)
        meta = data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        if request.namespace:
            meta.setdefault("namespace", request.namespace)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339())
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = self._next_version()
        data.setdefault("apiVersion", api_version(request.resource))
        if request.resource in self.resources and self.resources[request.resource].kind:
            data.setdefault("kind", self.resources[request.resource].kind)
        if request.resource == CRDS:
            data["status"] = self._establish(data)
        return data

    def _current(self, request: kmock.Request) -> dict[str, Any] | None:
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        return self.objects[key].raw

    def _patch_for(self, request: kmock.Request) -> Any:
        """The patch to apply: limited to what the subresource may change, with a new resourceVersion."""
        assert request.resource is not None
        current = self._current(request)
        patch = request.data
        if current is None:
            return patch  # kmock answers 404
        if isinstance(patch, list):  # a JSON patch: its paths coincide for /scale and /status
            try:  # a failing operation (kopf tests the resourceVersion first) is a 422, as in Kubernetes
                jsonpatch.apply_patch(current, patch)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                raise kmock.KubernetesError(status=422, reason="Invalid", message=str(exc)) from exc
            return [*patch, {"op": "add", "path": "/metadata/resourceVersion", "value": self._next_version()}]
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"].get("resourceVersion"):
            raise conflict(request.resource, request.name)
        if request.subresource == "status":
            patch = {"status": patch["status"]} if "status" in patch else {}
        elif request.subresource == "scale":
            patch = {"spec": {"replicas": (patch.get("spec") or {}).get("replicas")}}
        else:
            patch = copy.deepcopy(patch)
        meta = patch.setdefault("metadata", {})
        meta["resourceVersion"] = self._next_version()
        if request.subresource is None and "spec" in patch:
            meta["generation"] = current["metadata"].get("generation", 1) + 1
        return patch

    async def _replace(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """PUT: replace the object, its status, or its replica count."""
        assert request.resource is not None
        body = request.data if isinstance(request.data, dict) else {}
        async with self._lock:
            current = self._current(request)
            if current is None:
                raise kmock.KubernetesObjectNotFoundError()
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"].get("resourceVersion"):
                raise conflict(request.resource, request.name)
            new = copy.deepcopy(current)
            if request.subresource == "status":
                new["status"] = body.get("status")
            elif request.subresource == "scale":
                new.setdefault("spec", {})["replicas"] = (body.get("spec") or {}).get("replicas")
            else:
                new = {**copy.deepcopy(body), "status": current.get("status")}
                kept = ("name", "namespace", "uid", "creationTimestamp", "generation")
                new["metadata"] = {
                    **body.get("metadata", {}),
                    **{k: current["metadata"][k] for k in kept if k in current["metadata"]},
                }
                if body.get("spec") != current.get("spec"):
                    new["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
            new["metadata"]["resourceVersion"] = self._next_version()
            self.objects[request.resource, request.namespace, request.name].create(new)
            await self._buses[request.resource].put({"type": "MODIFIED", "object": new})
        return aiohttp.web.json_response(self._shape(request, new))

    def _establish(self, crd: dict[str, Any]) -> dict[str, Any]:
        """Make a created CRD's resource discoverable; the CRD status a real server would give it."""
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if version.get("served", True):
                self.resources[kmock.resource(spec["group"], version["name"], names["plural"])] = kmock.ResourceInfo(
                    namespaced=spec.get("scope") == "Namespaced", kind=names.get("kind"),
                    singular=names.get("singular"), shortnames=names.get("shortNames", []),
                    categories=names.get("categories", []), verbs=ALL_VERBS,
                    subresources=set(version.get("subresources") or {}),
                )  # fmt: skip
        stamp = now_rfc3339()
        return {
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "lastTransitionTime": stamp,
                 "message": "no conflicts found"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "lastTransitionTime": stamp,
                 "message": "the initial names have been accepted"},
            ],
        }  # fmt: skip

    # --- responses -------------------------------------------------------------------------

    async def _serve_fetch(self, request: kmock.Request) -> Any:
        return self._shape(request, await super()._serve_fetch(request))

    async def _serve_update(self, request: kmock.Request) -> Any:
        return self._shape(request, await super()._serve_update(request))

    async def _serve_list(self, request: kmock.Request) -> Any:
        assert request.resource is not None
        items = (await super()._serve_list(request))["items"]
        if _wants_table(request):
            return self._table(request.resource, items)
        info = self.resources.get(request.resource)
        kind = (info.kind if info is not None and info.kind else str(request.resource.plural).capitalize()) + "List"
        return {"apiVersion": api_version(request.resource), "kind": kind,
                "metadata": {"resourceVersion": str(self._latest_version)}, "items": items}  # fmt: skip

    async def _serve_version(self, request: kmock.Request) -> Any:
        payload = await super()._serve_version(request)
        if request.resource is not None and request.resource.group == "":
            payload["groupVersion"] = request.resource.version  # stock kmock says "/v1"
        for entry in payload["resources"]:
            if "/" in entry["name"]:  # stock kmock copies the parent's short names, kind and verbs
                entry.update(shortNames=[], categories=[], verbs=["get", "patch", "update"])
                if entry["name"].endswith("/scale"):
                    entry.update(group="autoscaling", version="v1", kind="Scale")
        return payload

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, kmock.KubernetesError) and exc.reason not in KNOWN_REASONS:
            exc = kmock.KubernetesError(status=exc.status, reason=REASONS.get(exc.status, "InternalError"),
                                        message=exc.message, details=exc.details or {})  # fmt: skip
        return await super()._render_error(exc)

    def _shape(self, request: kmock.Request, obj: dict[str, Any]) -> Any:
        """An object as the request asked for it: a Scale for `/scale`, a Table for kubectl."""
        assert request.resource is not None
        if request.subresource == "scale":
            return _as_scale(obj)
        if _wants_table(request) and request.subresource is None:
            return self._table(request.resource, [obj])
        return obj

    # --- tables (server-side printing) -----------------------------------------------------

    def _printer_columns(self, resource: kmock.resource) -> list[dict[str, Any]]:
        for key, obj in self.objects.items():
            if key[0] != CRDS or obj.deleted:
                continue
            spec = obj.raw.get("spec", {})
            if spec.get("group") != resource.group or spec.get("names", {}).get("plural") != resource.plural:
                continue
            for version in spec.get("versions", []):
                if version.get("name") == resource.version and "additionalPrinterColumns" in version:
                    return list(version["additionalPrinterColumns"])
        return [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]

    def _table(self, resource: kmock.resource, items: list[dict[str, Any]]) -> dict[str, Any]:
        columns = self._printer_columns(resource)
        definitions = [{"name": "Name", "type": "string", "format": "name", "priority": 0,
                        "description": "Name must be unique within a namespace."}]  # fmt: skip
        definitions += [
            {"name": c["name"], "type": c.get("type", "string"), "format": c.get("format", ""),
             "priority": c.get("priority", 0), "description": c.get("description", "")}
            for c in columns
        ]  # fmt: skip
        rows = [
            {
                "cells": [item["metadata"]["name"], *(_cell(c, _json_path(item, c["jsonPath"])) for c in columns)],
                "object": {
                    "apiVersion": "meta.k8s.io/v1",
                    "kind": "PartialObjectMetadata",
                    "metadata": item["metadata"],
                },
            }
            for item in items
        ]
        return {"apiVersion": "meta.k8s.io/v1", "kind": "Table", "columnDefinitions": definitions, "rows": rows,
                "metadata": {"resourceVersion": str(self._latest_version)}}  # fmt: skip


def _wants_table(request: kmock.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _as_scale(deployment: dict[str, Any]) -> dict[str, Any]:
    meta = deployment.get("metadata", {})
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": replicas},
        "status": {"replicas": (deployment.get("status") or {}).get("replicas", replicas),
                   "selector": ",".join(f"{k}={v}" for k, v in labels.items())},
    }  # fmt: skip


def _json_path(obj: Any, path: str) -> Any:
    """A printer column's simple JSONPath (`.a.b`, `.a[0].b`); None when absent."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            obj = obj[index] if isinstance(obj, list) and index < len(obj) else None
        else:
            obj = obj.get(part) if isinstance(obj, Mapping) else None
        if obj is None:
            return None
    return obj


def _cell(column: Mapping[str, Any], value: Any) -> Any:
    """A cell as the API server's CRD table convertor makes it (dates become ages)."""
    kind = column.get("type", "string")
    if value is None:
        return None
    if kind == "date" and isinstance(value, str):
        try:
            then = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "<invalid>"
        return _age(datetime.now(UTC).timestamp() - then.timestamp())
    if kind == "integer" and isinstance(value, int | float):
        return int(value)
    if kind == "string" and not isinstance(value, str):
        return json.dumps(value)
    return value


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size, limit in (("s", 1, 120), ("m", 60, 120 * 60), ("h", 3600, 48 * 3600)):
        if seconds < limit:
            return f"{seconds // size}{unit}"
    return f"{seconds // 86400}d"


class EmulatorThread:
    """`ClusterEmulator` served over HTTP on 127.0.0.1 from a thread and an event loop of its own."""

    def __init__(self) -> None:
        self._started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), name="k8s-emulator", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.emulator: ClusterEmulator | None = None
        self.url = ""

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        if not self._started.wait(10) or self._failure is not None:
            raise RuntimeError(f"the Kubernetes emulator did not start: {self._failure!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(15)

    async def _serve(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            async with ClusterEmulator() as emulator, kmock.Server(emulator) as server:
                self.emulator = emulator
                self.url = str(server.url).rstrip("/")
                self._started.set()
                await self._stopping.wait()
        except BaseException as exc:
            self._failure = exc
            self._started.set()
            raise

    def call(self, fn: Callable[[ClusterEmulator], T]) -> T:
        """Run `fn(emulator)` in the emulator's own loop (its state is not thread-safe) and return what it returns."""
        assert self._loop is not None and self.emulator is not None
        emulator = self.emulator

        async def run() -> T:
            return fn(emulator)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def requests(self) -> list[kmock.Request]:
        """Every request served so far."""
        return self.call(lambda emulator: list(emulator._requests))

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig for this server (no credentials: the emulator checks none)."""
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "emulator", "preferences": {},
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "emulator-token"}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester",
                                                           "namespace": namespace}}],
        }))  # fmt: skip
        return path


def wait_for(condition: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "") -> T:
    """Poll `condition()` until it returns something truthy, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}; last: {last!r}")
        time.sleep(interval)
        last = condition()
    return last
