"""A small, careful client for HubSpot's CRM Properties API (httpx).

- The token comes from the environment (HUBSPOT_ACCESS_TOKEN), is sent as a Bearer header,
  and never appears in any message, log or exception this module produces.
- Rate limits: a client-side window seeded from HubSpot's `X-HubSpot-RateLimit-*` headers; a
  429 for the ten-second window is retried with backoff honouring `Retry-After`; a daily-limit
  429 stops at once.
- 5xx and network errors are retried for reads, PATCH and DELETE. A create (POST) whose
  outcome is unknown is never re-sent: the caller gets `AmbiguousWrite` and must re-read.
"""

from __future__ import annotations

import collections
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_BASE_URL = "https://api.hubapi.com"
TOKEN_VARIABLE = "HUBSPOT_ACCESS_TOKEN"
BASE_URL_VARIABLE = "HUBSPOT_API_BASE_URL"

# The scopes a private app needs to manage property definitions, per object.
SCOPES = {
    "contacts": "crm.schemas.contacts.read and crm.schemas.contacts.write",
    "companies": "crm.schemas.companies.read and crm.schemas.companies.write",
    "deals": "crm.schemas.deals.read and crm.schemas.deals.write",
    "tickets": "tickets",
}


class HubSpotError(Exception):
    """HubSpot refused a request; the message names status, category and correlation id."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.body = body


class DailyLimitError(HubSpotError):
    """The account's daily API limit is used up: nothing more can be done today."""


class AmbiguousWrite(HubSpotError):
    """A write whose outcome is unknown (timeout, dropped connection, 5xx): re-read before
    doing anything else."""


class ConfigurationError(Exception):
    """The connection cannot be set up (no token, a bad base URL or API version)."""


@dataclass
class Response:
    status: int
    data: Any
    headers: Mapping[str, str]


def properties_path(api_version: str) -> str:
    """`/crm/v3/properties` for v3, `/crm/properties/2026-03` for a date version."""
    if api_version == "v3":
        return "/crm/v3/properties"
    parts = api_version.split("-")
    if (len(parts) == 2 and all(p.isdigit() for p in parts)) or api_version.endswith("-beta"):
        return f"/crm/properties/{api_version}"
    raise ConfigurationError(
        f"--api-version {api_version!r}: use v3 or a date version such as 2026-03"
    )


class HubSpotClient:
    """One portal, one token. Use as a context manager."""

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        api_version: str = "v3",
        timeout: float = 20.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get(TOKEN_VARIABLE)
        if not token:
            raise ConfigurationError(
                f"set {TOKEN_VARIABLE} to a private-app or service-key access token"
            )
        self._token = token
        base = base_url or os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL
        if not base.startswith(("http://", "https://")):
            raise ConfigurationError(f"the API base URL must start with https:// ({base})")
        self.base_url = base.rstrip("/")
        self.prefix = properties_path(api_version)
        self.api_version = api_version
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.writes = 0  # successful write requests, for reports and tests
        self.requests = 0
        self._window: collections.deque[float] = collections.deque()
        self._window_max = 90  # requests per window until HubSpot's headers say otherwise
        self._window_seconds = 10.0
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "calcformula",
            },
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never the token
        return f"HubSpotClient({self.base_url!r}, api_version={self.api_version!r})"

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    # --- requests -----------------------------------------------------------------------------

    def _throttle(self) -> None:
        now = time.monotonic()
        window = self._window
        while window and now - window[0] > self._window_seconds:
            window.popleft()
        if len(window) >= self._window_max:
            self.sleep(max(0.0, self._window_seconds - (now - window[0])) + 0.05)
        window.append(time.monotonic())

    def _learn_limits(self, headers: Mapping[str, str]) -> None:
        try:
            maximum = int(headers.get("X-HubSpot-RateLimit-Max", "0"))
            interval = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "0"))
        except ValueError:
            return
        if maximum > 0 and interval > 0:
            # Leave headroom: private apps in one account share the limit.
            self._window_max = max(1, int(maximum * 0.9))
            self._window_seconds = interval / 1000
        remaining = headers.get("X-HubSpot-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit() and int(remaining) <= 1:
            self.sleep(self._window_seconds / 2)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
        reads: bool = False,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Response:
        """One API call with retries. `reads`: a POST that only reads (batch read, search),
        safe to repeat. `files`: a multipart upload (the imports API), never repeated."""
        safe_to_repeat = reads or method in ("GET", "PATCH", "DELETE", "PUT")
        attempt = 0
        while True:
            attempt += 1
            self._throttle()
            self.requests += 1
            try:
                if files is not None:
                    response = self._http.request(
                        method, path, params=params, data=body, files=dict(files)
                    )
                else:
                    response = self._http.request(
                        method,
                        path,
                        params=params,
                        content=json.dumps(body) if body is not None else None,
                        headers={"Content-Type": "application/json"} if body is not None else None,
                    )
            except httpx.TransportError as error:
                problem = f"{method} {path}: {type(error).__name__}"
                if not safe_to_repeat:
                    raise AmbiguousWrite(
                        self.redact(f"{problem}; the outcome is unknown")
                    ) from None
                if attempt >= self.max_attempts:
                    raise HubSpotError(self.redact(f"{problem} after {attempt} attempts")) from None
                self.sleep(self._delay(attempt))
                continue
            self._learn_limits(response.headers)
            data = _json(response)
            if response.status_code in ok:
                if method != "GET" and not reads:
                    self.writes += 1
                return Response(response.status_code, data, response.headers)
            if response.status_code == 429:
                policy = str(data.get("policyName", "")) if isinstance(data, dict) else ""
                message = str(data.get("message", "")) if isinstance(data, dict) else ""
                if policy.upper() == "DAILY" or "daily limit" in message.lower():
                    raise DailyLimitError(
                        self.redact(
                            "HubSpot's daily API limit for this account is used up; it resets at "
                            "midnight in the account's time zone. Nothing more was sent."
                        ),
                        429,
                        "RATE_LIMIT",
                        _correlation(data),
                        data,
                    )
                if attempt >= self.max_attempts:
                    raise HubSpotError(
                        self.redact(
                            f"still rate limited after {attempt} attempts ({method} {path})"
                        ),
                        429,
                        "RATE_LIMIT",
                        _correlation(data),
                        data,
                    )
                self.sleep(self._retry_after(response.headers, attempt))
                continue
            if response.status_code >= 500:
                if not safe_to_repeat:
                    raise AmbiguousWrite(
                        self.redact(
                            f"{method} {path}: HubSpot answered {response.status_code}; the "
                            f"outcome is unknown"
                        ),
                        response.status_code,
                        None,
                        _correlation(data),
                    )
                if attempt < self.max_attempts:
                    self.sleep(self._delay(attempt))
                    continue
            raise self._error(method, path, response.status_code, data)

    def _delay(self, attempt: int) -> float:
        return float(min(self.backoff * (2 ** (attempt - 1)), 30.0))

    def _retry_after(self, headers: Mapping[str, str], attempt: int) -> float:
        value = headers.get("Retry-After")
        if value is not None:
            try:
                return min(max(float(value), 0.0), 60.0)
            except ValueError:
                pass
        return max(self._delay(attempt), self._window_seconds / 4)

    def _error(self, method: str, path: str, status: int, data: Any) -> HubSpotError:
        category = message = None
        details: list[str] = []
        if isinstance(data, dict):
            category = data.get("category") or data.get("errorType")
            message = data.get("message")
            for item in data.get("errors") or []:
                if isinstance(item, dict) and item.get("message"):
                    details.append(str(item["message"]))
        text = f"HubSpot answered {status}"
        if category:
            text += f" {category}"
        text += f" to {method} {path}"
        if message:
            text += f": {message}"
        if details:
            text += "\n  " + "\n  ".join(details)
        scopes = _missing_scopes(data)
        if status == 403 or scopes:
            needed = ", ".join(scopes) if scopes else _scope_hint(path)
            text += f"\n  the private app needs the scope {needed}"
        if status == 401:
            text += "\n  check HUBSPOT_ACCESS_TOKEN (a private-app or service-key token)"
        correlation = _correlation(data)
        if correlation:
            text += f"\n  correlation id: {correlation}"
        return HubSpotError(self.redact(text), status, category, correlation, data)

    # --- the Properties API -------------------------------------------------------------------

    def list_properties(self, object_name: str, archived: bool = False) -> list[dict[str, Any]]:
        response = self.request(
            "GET",
            f"{self.prefix}/{object_name}",
            params={"archived": "true" if archived else "false"},
        )
        return list(_results(response.data))

    def get_property(
        self, object_name: str, name: str, archived: bool = False
    ) -> dict[str, Any] | None:
        try:
            response = self.request(
                "GET",
                f"{self.prefix}/{object_name}/{name}",
                params={"archived": "true"} if archived else None,
            )
        except HubSpotError as error:
            if error.status == 404:
                return None
            raise
        return response.data if isinstance(response.data, dict) else None

    def create_property(self, object_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", f"{self.prefix}/{object_name}", body=payload)
        return response.data if isinstance(response.data, dict) else {}

    def update_property(
        self, object_name: str, name: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        response = self.request("PATCH", f"{self.prefix}/{object_name}/{name}", body=payload)
        return response.data if isinstance(response.data, dict) else {}

    def archive_property(self, object_name: str, name: str) -> None:
        self.request("DELETE", f"{self.prefix}/{object_name}/{name}")

    def list_groups(self, object_name: str) -> list[dict[str, Any]]:
        response = self.request("GET", f"{self.prefix}/{object_name}/groups")
        return list(_results(response.data))

    def create_group(self, object_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", f"{self.prefix}/{object_name}/groups", body=payload)
        return response.data if isinstance(response.data, dict) else {}

    def account_details(self) -> dict[str, Any]:
        response = self.request("GET", "/account-info/v3/details")
        return response.data if isinstance(response.data, dict) else {}


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"message": response.text[:500]}


def _results(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return [item for item in data["results"] if isinstance(item, dict)]
    return []


def _correlation(data: Any) -> str | None:
    if isinstance(data, dict) and data.get("correlationId"):
        return str(data["correlationId"])
    return None


def _missing_scopes(data: Any) -> list[str]:
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    context = data.get("context") or {}
    if isinstance(context, dict):
        for key in ("missingScopes", "requiredGranularScopes", "requiredScopes"):
            values = context.get(key)
            if isinstance(values, list):
                found.extend(str(v) for v in values)
    for item in data.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("context"), dict):
            for key in ("missingScopes", "requiredGranularScopes", "requiredScopes"):
                values = item["context"].get(key)
                if isinstance(values, list):
                    found.extend(str(v) for v in values)
    return list(dict.fromkeys(found))


def _scope_hint(path: str) -> str:
    for object_name, scopes in SCOPES.items():
        if f"/{object_name}" in path:
            return scopes
    return "crm.schemas.<object>.read and crm.schemas.<object>.write"
