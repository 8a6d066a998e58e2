"""A local HTTP server that behaves like HubSpot's Properties, Objects and Imports APIs, for
tests (loopback only).

It stores properties and groups per object, answers in HubSpot's shapes (400 with a parser
message, 401, 403 with scopes, 404, 409 OBJECT_ALREADY_EXISTS, 429 with policyName), sends
rate-limit headers, and stores formulas in HubSpot's rewritten form (decisions.md C1) by
calling `calcformula.format(formula, style="hubspot")`. A formula naming a property the object
does not have answers 404, as HubSpot does. It serves the v3 paths and the date-versioned ones
(`/crm/properties/2026-09/...`, `/crm/objects/...`, `/crm/imports/...`, `/account-info/...`).
Faults can be scripted per request: 500s, 429s (with any Retry-After text), 400s, slow
answers, bodies trickled byte by byte, raw bytes, dropped connections, a create that succeeds
on the server while the client never hears back, and a create that loses a race (409).

Records (for `verify`): objects hold records whose calculated properties get their values from
a function the test supplies (`calculate`), so tests can plant mismatches; imported records
receive them only after `backfill_reads` batch reads, like HubSpot's delayed backfill. The
imports API takes the multipart request, moves STARTED -> PROCESSING -> DONE over polls, and
reports rows with invalid numbers in `/errors` with their line numbers.
"""

from __future__ import annotations

import copy
import csv
import email.parser
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import calcformula
from calcformula.formatter import FormatError
from calcformula.nodes import Property, walk

PAIRS = {
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "string": {"file", "text", "textarea", "calculation_equation", "html", "phonenumber"},
    "number": {"number", "calculation_equation"},
}
VERSION = r"(?:v3|\d{4}-\d{2}(?:-beta)?)"
PATH = re.compile(
    r"^/crm/(?:v3/properties|properties/\d{4}-\d{2}(?:-beta)?)/(?P<object>[a-z_]+)"
    r"(?:/(?P<rest>.*))?$"
)
OBJECTS = re.compile(r"^/crm/(?:v3/objects|objects/\d{4}-\d{2}(?:-beta)?)/(?P<rest>.*)$")
IMPORTS = re.compile(r"^/crm/(?:v3/imports|imports/\d{4}-\d{2}(?:-beta)?)(?P<rest>/.*)?$")
ACCOUNT = re.compile(rf"^/account-info/{VERSION}/details$")


def canonical(formula: str) -> str:
    """What HubSpot stores (decisions.md C1), by calcformula's hubspot style; raises
    `FormatError` for a formula that does not parse."""
    return calcformula.format(formula, style="hubspot")


@dataclass
class Fault:
    method: str
    path: str  # a substring of the path
    # 500 | 429 | daily | 400 | drop | commit-then-drop | slow | conflict | raw
    # | trickle (body bytes one by one) | trickle-headers (header bytes one by one)
    kind: str
    times: int = 1
    seconds: float = 0.0
    retry_after: str | None = None  # 429: the Retry-After header's text
    raw: bytes = b""  # raw: the whole answer, sent as is
    after: int = 0  # let this many matching requests through first


@dataclass
class FakeHubSpot:
    token: str = "pat-na1-TEST-SECRET-TOKEN-1234567890"
    portal_id: int = 12345678
    account_type: str = "SANDBOX"
    forbidden_objects: set[str] = field(default_factory=set)
    properties: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    archived: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    rejected_formula_words: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    remaining: int = 100
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calculate: Callable[[str, str, dict[str, Any]], str | None] | None = None
    backfill_reads: int = 0
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)
    page_sizes: list[int] = field(default_factory=list)
    next_id: int = 1000
    times: list[float] = field(default_factory=list)  # time.monotonic() of each request
    fail_import: str | None = None  # an import ends FAILED with this file-level reason

    def add_record(self, obj: str, properties: dict[str, Any]) -> str:
        self.next_id += 1
        record_id = str(self.next_id)
        self.records.setdefault(obj, []).append(
            {"id": record_id, "properties": dict(properties), "reads": 10**9, "archived": False}
        )
        return record_id

    def live_records(self, obj: str) -> list[dict[str, Any]]:
        return [r for r in self.records.get(obj, []) if not r["archived"]]

    # --- setup ---------------------------------------------------------------------------

    def add_object(self, name: str, groups: list[str], properties: list[dict[str, Any]]) -> None:
        self.groups[name] = {
            g: {"name": g, "label": g.title(), "displayOrder": -1, "archived": False}
            for g in groups
        }
        self.properties[name] = {}
        self.archived[name] = {}
        for prop in properties:
            self.properties[name][prop["name"]] = self._stored(prop, hubspot=True)

    def fail(
        self,
        method: str,
        path: str,
        kind: str,
        times: int = 1,
        seconds: float = 0,
        retry_after: str | None = None,
        raw: bytes = b"",
        after: int = 0,
    ) -> None:
        self.faults.append(Fault(method, path, kind, times, seconds, retry_after, raw, after))

    def requests_to(self, method: str, path: str) -> list[float]:
        """When each request to `path` (a substring) arrived (time.monotonic())."""
        return [
            moment
            for (m, p), moment in zip(self.log, self.times, strict=True)
            if m == method and path in p
        ]

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [entry for entry in self.log if entry[0] != "GET"]

    def _stored(self, prop: dict[str, Any], hubspot: bool = False) -> dict[str, Any]:
        now = "2026-11-22T10:00:00Z"
        stored = {
            "name": prop["name"],
            "label": prop.get("label", ""),
            "type": prop["type"],
            "fieldType": prop["fieldType"],
            "groupName": prop.get("groupName", ""),
            "description": prop.get("description", ""),
            "options": prop.get("options", []),
            "displayOrder": prop.get("displayOrder", -1),
            "hidden": prop.get("hidden", False),
            "hubspotDefined": prop.get("hubspotDefined", hubspot),
            "formField": False,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "modificationMetadata": {
                "archivable": True,
                "readOnlyDefinition": hubspot,
                "readOnlyValue": False,
            },
        }
        if prop.get("calculationFormula") is not None:
            try:
                stored["calculationFormula"] = canonical(prop["calculationFormula"])
            except FormatError:  # set up by a test as is
                stored["calculationFormula"] = prop["calculationFormula"]
            stored["calculated"] = True
            stored["modificationMetadata"]["readOnlyValue"] = True
        return stored

    # --- serving ---------------------------------------------------------------------------

    def serve(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                fake.handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path in path:
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        method = request.command
        url = urlparse(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        with self.lock:
            self.log.append((method, url.path))
            self.times.append(time.monotonic())
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(
                request,
                401,
                {
                    "status": "error",
                    "category": "INVALID_AUTHENTICATION",
                    "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        fault = self._fault(method, url.path)
        if fault is not None:
            if fault.kind == "drop":
                request.close_connection = True
                return None
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            if fault.kind == "raw":
                request.close_connection = True
                request.wfile.write(fault.raw)
                return None
            if fault.kind in ("trickle", "trickle-headers"):
                return self._trickle(request, fault)
            if fault.kind == "400":
                status, data = self._error(400, "VALIDATION_ERROR", "Scripted failure")
                return self._send(request, status, data)
            if fault.kind == "500":
                return self._send(
                    request,
                    502,
                    {
                        "status": "error",
                        "message": "Bad gateway",
                        "correlationId": str(uuid.uuid4()),
                    },
                )
            if fault.kind in ("429", "daily"):
                daily = fault.kind == "daily"
                return self._send(
                    request,
                    429,
                    {
                        "status": "error",
                        "errorType": "RATE_LIMIT",
                        "message": "You have reached your daily limit."
                        if daily
                        else "You have reached your ten_secondly_rolling limit.",
                        "policyName": "DAILY" if daily else "TEN_SECONDLY_ROLLING",
                        "correlationId": str(uuid.uuid4()),
                    },
                    {} if daily else {"Retry-After": fault.retry_after or str(int(fault.seconds))},
                )
        content_type = request.headers.get("Content-Type") or ""
        try:
            if content_type.startswith("multipart/form-data"):
                body: Any = _multipart(content_type, raw)
            else:
                body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(
                request,
                400,
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "Invalid input JSON",
                },
            )
        if fault is not None and fault.kind == "conflict" and isinstance(body, dict):
            # Someone else creates the same property (with another label) just before us.
            with self.lock:
                matched = PATH.match(url.path)
                if matched and matched.group("object") in self.properties:
                    rival = {**body, "label": f"{body.get('label', '')} (theirs)"}
                    self.properties[matched.group("object")][body["name"]] = self._stored(rival)
        status, data = self.route(method, url.path, parse_qs(url.query), body)
        if fault is not None and fault.kind == "commit-then-drop":
            request.close_connection = True
            return None
        return self._send(request, status, data)

    def _send(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        data: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = b"" if data is None else json.dumps(data).encode()
        with self.lock:
            self.remaining = max(0, self.remaining - 1)
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.send_header("X-HubSpot-RateLimit-Max", "100")
        request.send_header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
        request.send_header("X-HubSpot-RateLimit-Remaining", str(max(self.remaining, 50)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(payload)

    def _trickle(self, request: BaseHTTPRequestHandler, fault: Fault) -> None:
        """A 200 that dribbles out one byte every `fault.seconds` (headers too, for
        trickle-headers) until the client gives up."""
        body = json.dumps({"results": [{"name": "x" * 40}] * 20}).encode()
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"X-Padding: {'p' * 200}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        request.close_connection = True
        slow = head + body if fault.kind == "trickle-headers" else body
        try:
            if fault.kind == "trickle":
                request.wfile.write(head)
                request.wfile.flush()
            for index in range(len(slow)):
                request.wfile.write(slow[index : index + 1])
                request.wfile.flush()
                time.sleep(fault.seconds)
        except OSError:
            return None  # the client hung up, as it should
        return None

    def _error(
        self, status: int, category: str, message: str, **extra: Any
    ) -> tuple[int, dict[str, Any]]:
        return status, {
            "status": "error",
            "category": category,
            "message": message,
            "correlationId": str(uuid.uuid4()),
            **extra,
        }

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        objects = OBJECTS.match(path)
        if objects:
            with self.lock:
                return self._objects(method, objects.group("rest"), query, body)
        imports = IMPORTS.match(path)
        if imports:
            with self.lock:
                return self._imports(method, imports.group("rest") or "", body, query)
        if ACCOUNT.match(path):
            return 200, {
                "portalId": self.portal_id,
                "accountType": self.account_type,
                "timeZone": "Europe/Berlin",
                "companyCurrency": "EUR",
            }
        matched = PATH.match(path)
        if not matched:
            return self._error(404, "OBJECT_NOT_FOUND", f"No route for {path}")
        obj, rest = matched.group("object"), matched.group("rest") or ""
        if obj not in self.properties:
            return self._error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {obj}")
        if obj in self.forbidden_objects:
            return self._error(
                403,
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call.",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [f"crm.schemas.{obj}.write"]},
                    }
                ],
            )
        with self.lock:
            if rest == "groups":
                if method == "GET":
                    return 200, {"results": list(self.groups[obj].values())}
                if method == "POST":
                    name = body.get("name")
                    if name in self.groups[obj]:
                        return self._error(409, "OBJECT_ALREADY_EXISTS", f"{name} exists")
                    self.groups[obj][name] = {
                        "name": name,
                        "label": body.get("label", name),
                        "displayOrder": body.get("displayOrder", -1),
                        "archived": False,
                    }
                    return 201, self.groups[obj][name]
            archived = query.get("archived", ["false"])[0] == "true"
            if rest == "":
                if method == "GET":
                    source = self.archived if archived else self.properties
                    return 200, {"results": [copy.deepcopy(p) for p in source[obj].values()]}
                if method == "POST":
                    return self._create(obj, body)
            name = rest
            if method == "GET":
                source = self.archived if archived else self.properties
                if name in source[obj]:
                    return 200, copy.deepcopy(source[obj][name])
                return self._error(404, "OBJECT_NOT_FOUND", f"Property {name} does not exist")
            if method == "PATCH":
                return self._update(obj, name, body)
            if method == "DELETE":
                if name not in self.properties[obj]:
                    return self._error(404, "OBJECT_NOT_FOUND", f"Property {name} does not exist")
                prop = self.properties[obj].pop(name)
                prop["archived"] = True
                self.archived[obj][name] = prop
                return 204, None
        return self._error(405, "METHOD_NOT_ALLOWED", f"{method} {path}")

    def _formula_problem(
        self, obj: str, formula: str | None, own: str | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        if formula is None:
            return None
        parsed = calcformula.parse(formula)
        if not parsed.ok:
            return self._error(
                400,
                "VALIDATION_ERROR",
                "Unable to parse calculation formula",
                propertiesErrorCode="PROPERTY_INVALID",
            )
        named = sorted({n.name for n in walk(parsed.tree) if isinstance(n, Property)})
        unknown = [n for n in named if n not in self.properties[obj] and n != own]
        if unknown:
            # HubSpot answers 404 here (decisions.md, API facts); its exact wording was not
            # captured, so this body is only HubSpot-like.
            return self._error(
                404,
                "OBJECT_NOT_FOUND",
                f"Unable to find properties referenced in calculation formula: "
                f"[{', '.join(unknown)}]",
                subCategory="PropertyValidationError.PROPERTY_NOT_FOUND",
            )
        for word in self.rejected_formula_words:
            if word in formula:
                column = formula.index(word) + 1
                return self._error(
                    400,
                    "VALIDATION_ERROR",
                    f"Unable to parse calculation formula in line 1 and column "
                    f"{column} - line 1, column {column}:\n*, -, round_down, "
                    f"is_present, ( expected, {word} encountered.",
                    propertiesErrorCode="PROPERTY_INVALID",
                )
        return None

    def _create(self, obj: str, body: dict[str, Any]) -> tuple[int, Any]:
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if k not in body]
        if missing:
            return self._error(400, "VALIDATION_ERROR", f"Missing {', '.join(missing)}")
        name = body["name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,99}", name):
            return self._error(400, "VALIDATION_ERROR", f"Invalid property name {name}")
        if body["fieldType"] not in PAIRS.get(body["type"], set()):
            return self._error(400, "VALIDATION_ERROR", "Invalid type/fieldType combination")
        if body["groupName"] not in self.groups[obj]:
            return self._error(400, "VALIDATION_ERROR", f"group {body['groupName']} not found")
        if name in self.properties[obj] or name in self.archived[obj]:
            return self._error(
                409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists."
            )
        problem = self._formula_problem(obj, body.get("calculationFormula"))
        if problem:
            return problem
        self.properties[obj][name] = self._stored(body)
        return 201, copy.deepcopy(self.properties[obj][name])

    def _update(self, obj: str, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        if name not in self.properties[obj]:
            return self._error(404, "OBJECT_NOT_FOUND", f"Property {name} does not exist")
        problem = self._formula_problem(obj, body.get("calculationFormula"), name)
        if problem:
            return problem
        prop = self.properties[obj][name]
        for key in ("label", "description", "groupName", "options", "displayOrder", "hidden"):
            if key in body:
                prop[key] = body[key]
        if "calculationFormula" in body:
            prop["calculationFormula"] = canonical(body["calculationFormula"])
        return 200, copy.deepcopy(prop)

    # --- objects and imports -----------------------------------------------------------------

    def _shown(self, obj: str, record: dict[str, Any], names: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {"hs_object_id": record["id"]}
        for name in names:
            prop = self.properties.get(obj, {}).get(name)
            if prop is not None and prop.get("calculationFormula") and self.calculate:
                ready = record["reads"] >= self.backfill_reads
                values[name] = self.calculate(obj, name, record["properties"]) if ready else None
            else:
                values[name] = record["properties"].get(name)
        return values

    def _objects(
        self, method: str, rest: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        obj, _, action = rest.partition("/")
        if obj not in self.properties:
            return self._error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {obj}")
        if method == "GET" and action == "":
            limit = int(query.get("limit", ["10"])[0])
            if limit > 100:
                return self._error(400, "VALIDATION_ERROR", "limit must be at most 100")
            self.page_sizes.append(limit)
            names = [n for n in query.get("properties", [""])[0].split(",") if n]
            start = int(query.get("after", ["0"])[0])
            live = self.live_records(obj)
            page = live[start : start + limit]
            data: dict[str, Any] = {
                "results": [
                    {"id": r["id"], "properties": self._shown(obj, r, names), "archived": False}
                    for r in page
                ]
            }
            if start + limit < len(live):
                data["paging"] = {"next": {"after": str(start + limit)}}
            return 200, data
        if method == "POST" and action in ("batch/read", "batch/archive"):
            inputs = body.get("inputs", []) if isinstance(body, dict) else []
            self.batch_sizes.append(len(inputs))
            if len(inputs) > 100:
                return self._error(400, "VALIDATION_ERROR", "at most 100 inputs per batch")
            if action == "batch/archive":
                ids = {str(i.get("id")) for i in inputs}
                for record in self.records.get(obj, []):
                    if record["id"] in ids:
                        record["archived"] = True
                return 204, None
            key = body.get("idProperty") or "hs_object_id"
            names = list(body.get("properties", []))
            wanted = {str(i.get("id")) for i in inputs}
            results = []
            for record in self.live_records(obj):
                value = record["id"] if key == "hs_object_id" else record["properties"].get(key)
                if value in wanted:
                    record["reads"] += 1
                    results.append(
                        {"id": record["id"], "properties": self._shown(obj, record, names)}
                    )
            return 200, {"status": "COMPLETE", "results": results}
        return self._error(405, "METHOD_NOT_ALLOWED", f"{method} objects/{rest}")

    def _imports(
        self, method: str, rest: str, body: Any, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        if method == "POST" and rest == "":
            if not isinstance(body, dict) or "importRequest" not in body or "files" not in body:
                return self._error(400, "VALIDATION_ERROR", "importRequest and files are required")
            request = json.loads(body["importRequest"])
            page = request["files"][0]["fileImportPage"]
            [type_id] = list(request.get("importOperations", {"0-3": "CREATE"}))
            obj = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}.get(type_id, type_id)
            mappings = {m["columnName"]: m["propertyName"] for m in page["columnMappings"]}
            reader = csv.reader(io.StringIO(body["files"].decode("utf-8")))
            header = next(reader)
            errors = []
            for line, row in enumerate(reader, start=2):
                properties: dict[str, Any] = {}
                bad = None
                for column, value in zip(header, row, strict=True):
                    name = mappings[column]
                    prop = self.properties[obj].get(name, {})
                    if prop.get("type") == "number" and value and not _is_number(value):
                        bad = (name, value)
                    properties[name] = value or None
                if bad is not None:
                    errors.append(
                        {
                            "errorType": "INVALID_NUMBER",
                            "invalidValue": bad[1],
                            "errorMessage": f"{bad[1]} is not a valid number for {bad[0]}",
                            "knownColumnNumber": header.index(bad[0]) + 1,
                            "sourceData": {"lineNumber": line, "rowData": row},
                        }
                    )
                    continue
                self.next_id += 1
                self.records.setdefault(obj, []).append(
                    {
                        "id": str(self.next_id),
                        "properties": properties,
                        "reads": 0,
                        "archived": False,
                    }
                )
            identifier = str(len(self.imports) + 500)
            if self.fail_import:
                errors.append({"errorType": "FAILED_IMPORT", "errorMessage": self.fail_import})
            self.imports[identifier] = {"state": "STARTED", "polls": 0, "errors": errors}
            return 200, {"id": identifier, "state": "STARTED"}
        import_id, _, tail = rest.strip("/").partition("/")
        job = self.imports.get(import_id)
        if method != "GET" or job is None:
            return self._error(404, "OBJECT_NOT_FOUND", f"import {import_id} not found")
        if tail == "errors":
            wanted = query.get("includeErrorMessage", ["false"])[0] == "true"
            return 200, {
                "results": [
                    {k: v for k, v in e.items() if wanted or k != "errorMessage"}
                    for e in job["errors"]
                ]
            }
        job["polls"] += 1
        done = "FAILED" if self.fail_import else "DONE"
        job["state"] = "PROCESSING" if job["polls"] < 2 else done
        return 200, {"id": import_id, "state": job["state"], "metadata": {"counters": {}}}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    message = email.parser.BytesParser().parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, Any] = {}
    parts: list[Any] = list(message.get_payload())
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = payload if part.get_filename() else payload.decode("utf-8")
    return fields
