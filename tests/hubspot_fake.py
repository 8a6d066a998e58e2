"""A local HTTP server that behaves like HubSpot's Properties API, for tests (loopback only).

It stores properties and groups per object, answers in HubSpot's shapes (400 with a parser
message, 401, 403 with scopes, 404, 409 OBJECT_ALREADY_EXISTS, 429 with policyName), sends
rate-limit headers, and rewrites stored formulas the way HubSpot does (`=` -> `equals`,
double quotes -> single quotes, a line break before `elseif`), with its own simple text rules
rather than calcformula's formatter. Faults can be scripted per request: 500s, 429s, slow
answers, dropped connections, and a create that succeeds on the server while the client
never hears back.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
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
        try:
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
