"""A local HTTP server that behaves like HubSpot's Properties, Objects and Imports APIs, for
tests (loopback only).

It stores properties and groups per object, answers in HubSpot's shapes (400 with a parser
message, 401, 403 with scopes, 404, 409 OBJECT_ALREADY_EXISTS, 429 with policyName), sends
rate-limit headers, and rewrites stored formulas the way HubSpot does (`=` -> `equals`,
double quotes -> single quotes, a line break before `elseif`), with its own simple text rules
rather than calcformula's formatter. Faults can be scripted per request: 500s, 429s, slow
answers, dropped connections, and a create that succeeds on the server while the client
never hears back.

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

PAIRS = {
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "string": {"file", "text", "textarea", "calculation_equation", "html", "phonenumber"},
    "number": {"number", "calculation_equation"},
}
PATH = re.compile(
    r"^/crm/(?:v3/properties|properties/(?P<version>\d{4}-\d{2}))/(?P<object>[a-z_]+)"
    r"(?:/(?P<rest>.*))?$"
)


def canonical(formula: str) -> str:
    """What HubSpot stores: its rewrite, reproduced with plain text rules."""
    text = re.sub(r'"([^"\']*)"', r"'\1'", formula)
    text = re.sub(r"(?<![<>!=])=(?!=)", " equals ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s*\belseif\b", "\nelseif", text, flags=re.IGNORECASE)
    text = re.sub(r"\(\s*(is_present\([^()]*(?:\([^()]*\))?[^()]*\))\s*\)", r"\1", text)
    return re.sub(r" +", " ", text)


@dataclass
class Fault:
    method: str
    path: str  # a substring of the path
    kind: str  # 500 | 429 | daily | drop | commit-then-drop | slow | 400-formula
    times: int = 1
    seconds: float = 0.0


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

    def fail(self, method: str, path: str, kind: str, times: int = 1, seconds: float = 0) -> None:
        self.faults.append(Fault(method, path, kind, times, seconds))

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
            stored["calculationFormula"] = canonical(prop["calculationFormula"])
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
                    fault.times -= 1
                    return fault
        return None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        method = request.command
        url = urlparse(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        self.log.append((method, url.path))
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
                    {"Retry-After": str(int(fault.seconds))} if not daily else {},
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
        if path.startswith("/crm/v3/objects/"):
            with self.lock:
                return self._objects(method, path.removeprefix("/crm/v3/objects/"), query, body)
        if path.startswith("/crm/v3/imports"):
            with self.lock:
                return self._imports(method, path.removeprefix("/crm/v3/imports"), body)
        if path == "/account-info/v3/details":
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

    def _formula_problem(self, formula: str | None) -> tuple[int, dict[str, Any]] | None:
        if formula is None:
            return None
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
        problem = self._formula_problem(body.get("calculationFormula"))
        if problem:
            return problem
        self.properties[obj][name] = self._stored(body)
        return 201, copy.deepcopy(self.properties[obj][name])

    def _update(self, obj: str, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        if name not in self.properties[obj]:
            return self._error(404, "OBJECT_NOT_FOUND", f"Property {name} does not exist")
        problem = self._formula_problem(body.get("calculationFormula"))
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
        return self._error(405, "METHOD_NOT_ALLOWED", f"{method} /crm/v3/objects/{rest}")

    def _imports(self, method: str, rest: str, body: Any) -> tuple[int, Any]:
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
            self.imports[identifier] = {"state": "STARTED", "polls": 0, "errors": errors}
            return 200, {"id": identifier, "state": "STARTED"}
        import_id, _, tail = rest.strip("/").partition("/")
        job = self.imports.get(import_id)
        if method != "GET" or job is None:
            return self._error(404, "OBJECT_NOT_FOUND", f"import {import_id} not found")
        if tail == "errors":
            return 200, {"results": job["errors"]}
        job["polls"] += 1
        job["state"] = "PROCESSING" if job["polls"] < 2 else "DONE"
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
