"""A small, careful client for HubSpot's CRM Properties, Objects, Imports and Account APIs
(httpx).

- The token comes from the environment (HUBSPOT_ACCESS_TOKEN), trimmed of surrounding
  whitespace, is sent as a Bearer header, and never appears in any message, log or exception
  this module produces. A token with inner whitespace or control characters is refused.
- The base URL (HUBSPOT_API_BASE_URL) must be https, except on a loopback host (tests).
- Every request has an overall deadline covering connect, headers and the whole body
  (`deadline`, $CALCFORMULA_HTTP_DEADLINE, 60 s by default), so a server that trickles bytes
  cannot hold a command; httpx's own timeout only bounds each read.
- Every wait derived from the server (Retry-After, `X-HubSpot-RateLimit-*`) is clamped to
  `max_wait` ($CALCFORMULA_HTTP_MAX_WAIT, 30 s), nonsense values included; all waiting between
  retries is bounded by `retry_budget` ($CALCFORMULA_HTTP_RETRY_BUDGET, 120 s) and reported.
- 5xx and network errors are retried for reads, PATCH and DELETE. A create (POST) whose
  outcome is unknown is never re-sent: the caller gets `AmbiguousWrite` and must re-read. A
  refused connection (nothing was sent) is retried for a few seconds, each retry announced.
- An answer that is not the JSON HubSpot documents is a `ResponseError` naming the request;
  it is never read as "nothing there".
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import ipaddress
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_API_VERSION = "2026-09"
TOKEN_VARIABLE = "HUBSPOT_ACCESS_TOKEN"
BASE_URL_VARIABLE = "HUBSPOT_API_BASE_URL"
API_VERSION_VARIABLE = "HUBSPOT_API_VERSION"
DEADLINE_VARIABLE = "CALCFORMULA_HTTP_DEADLINE"
MAX_WAIT_VARIABLE = "CALCFORMULA_HTTP_MAX_WAIT"
RETRY_BUDGET_VARIABLE = "CALCFORMULA_HTTP_RETRY_BUDGET"
DEFAULT_DEADLINE = 60.0
DEFAULT_MAX_WAIT = 30.0
DEFAULT_RETRY_BUDGET = 120.0
MAX_BODY = 64 * 1024 * 1024  # far above any Properties answer; a bigger one is not HubSpot
CONNECT_DELAYS = (0.5, 1.0, 2.0)  # a refused connection: retried for 3.5 s in all

# The scopes a private app needs to manage property definitions, per object.
SCOPES = {
    "contacts": "crm.schemas.contacts.read and crm.schemas.contacts.write",
    "companies": "crm.schemas.companies.read and crm.schemas.companies.write",
    "deals": "crm.schemas.deals.read and crm.schemas.deals.write",
    "tickets": "tickets",
}


class HubSpotError(Exception):
    """HubSpot refused a request, or could not be reached; the message names the request
    (method and path), status, category and correlation id, never the token."""

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


class ResponseError(HubSpotError):
    """A successful status whose body is not what HubSpot documents (HTML, truncated JSON,
    missing `results`, wrong types): the answer cannot be trusted, so nothing acts on it."""


class DeadlineExceeded(HubSpotError):
    """The server did not finish answering within the request's overall deadline."""


class ConfigurationError(Exception):
    """The connection cannot be set up (no token, a bad base URL or API version)."""


@dataclass
class Response:
    status: int
    data: Any
    headers: Mapping[str, str]


def _api_prefix(api: str, api_version: str) -> str:
    """`/crm/v3/properties` for v3, `/crm/properties/2026-09` for a date version; the same
    shape for objects, imports and account-info."""
    if api_version == "v3":
        head, _, tail = api.rpartition("/")
        return f"/{head}/v3/{tail}" if head else f"/{tail}/v3"
    return f"/{api}/{api_version}"


def check_api_version(api_version: str) -> str:
    parts = api_version.removesuffix("-beta").split("-")
    if api_version == "v3" or (
        len(parts) == 2
        and len(parts[0]) == 4
        and len(parts[1]) == 2
        and all(p.isdigit() for p in parts)
        and 1 <= int(parts[1]) <= 12
    ):
        return api_version
    raise ConfigurationError(
        f"API version {api_version!r}: use a date version such as {DEFAULT_API_VERSION} "
        "(the default) or v3"
    )


def properties_path(api_version: str) -> str:
    """`/crm/v3/properties` for v3, `/crm/properties/2026-09` for a date version."""
    return _api_prefix("crm/properties", check_api_version(api_version))


def _seconds_setting(variable: str, given: float | None, default: float, low: float) -> float:
    """A duration from an argument or the environment: finite, at least `low`."""
    if given is None:
        raw = os.environ.get(variable)
        if raw is None or not raw.strip():
            return default
        try:
            given = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"{variable}={raw[:40]!r} is not a number of seconds"
            ) from None
        source = variable
    else:
        source = variable.removeprefix("CALCFORMULA_HTTP_").lower()
    if not math.isfinite(given) or given < low or given > 86400:
        raise ConfigurationError(
            f"{source} must be a number of seconds between {low:g} and 86400 (got {given})"
        )
    return float(given)


def clean_token(token: str) -> str:
    """The token without surrounding whitespace (a trailing newline from a file or a secret
    store is common); inner whitespace or control characters are refused without showing it."""
    token = token.strip()
    for index, char in enumerate(token):
        if not (char.isascii() and char.isprintable()) or char.isspace():
            raise ConfigurationError(
                f"{TOKEN_VARIABLE} contains a space, a control or a non-ASCII character at "
                f"position {index + 1} (of {len(token)}); copy the token again"
            )
    return token


def check_base_url(base: str) -> str:
    """https only, except loopback hosts (127.0.0.0/8, ::1, localhost) for local servers."""
    try:
        parts = urlsplit(base)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ConfigurationError(f"{BASE_URL_VARIABLE}: not a URL ({base[:80]!r})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"{BASE_URL_VARIABLE} must be an https:// URL such as {DEFAULT_BASE_URL} "
            f"(got {base[:80]!r})"
        )
    if parts.username or parts.password:
        raise ConfigurationError(f"{BASE_URL_VARIABLE} must not contain a user name or password")
    if parts.scheme == "http" and not _loopback(host):
        raise ConfigurationError(
            f"{BASE_URL_VARIABLE} {base[:80]!r} is not https: the token would travel "
            "unencrypted (plain http is allowed only for 127.0.0.1, ::1 and localhost)"
        )
    return base.rstrip("/")


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def segment(name: str) -> str:
    """An object or property name as one URL path segment: percent-encoded, and never `.`,
    `..` or empty (which would address another resource)."""
    if name in ("", ".", "..") or not name.isprintable():
        raise HubSpotError(f"{name!r} is not a valid object or property name")
    return quote(name, safe="")


def _excerpt(content: bytes, limit: int = 120) -> str:
    text = content[: limit * 4].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


@dataclass
class _Raw:
    status: int
    headers: httpx.Headers
    content: bytes


class _Cut(Exception):
    """The worker's request was abandoned at the deadline."""


class HubSpotClient:
    """One portal, one token. Use as a context manager.

    `notify` receives a line for each retry (the commands print it on stderr). Durations
    (`deadline`, `max_wait`, `retry_budget`) default to the environment variables above, so
    tests can shorten them for a real local server."""

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        timeout: float = 20.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        deadline: float | None = None,
        max_wait: float | None = None,
        retry_budget: float | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get(TOKEN_VARIABLE)
        if token is None or not token.strip():
            raise ConfigurationError(
                f"set {TOKEN_VARIABLE} to a private-app or service-key access token"
            )
        self._token = clean_token(token)
        self.base_url = check_base_url(
            base_url or os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL
        )
        version = api_version or os.environ.get(API_VERSION_VARIABLE) or DEFAULT_API_VERSION
        self.api_version = check_api_version(version.strip())
        self.prefix = properties_path(self.api_version)
        self.objects_prefix = _api_prefix("crm/objects", self.api_version)
        self.imports_prefix = _api_prefix("crm/imports", self.api_version)
        self.account_prefix = _api_prefix("account-info", self.api_version)
        self.deadline = _seconds_setting(DEADLINE_VARIABLE, deadline, DEFAULT_DEADLINE, 0.05)
        self.max_wait = _seconds_setting(MAX_WAIT_VARIABLE, max_wait, DEFAULT_MAX_WAIT, 0.0)
        self.retry_budget = _seconds_setting(
            RETRY_BUDGET_VARIABLE, retry_budget, DEFAULT_RETRY_BUDGET, 0.0
        )
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.notify = notify or (lambda line: None)
        self.timeout = timeout
        self.writes = 0  # successful write requests, for reports and tests
        self.requests = 0
        self.retries = 0
        self.waited = 0.0  # seconds slept before retries (bounded by retry_budget)
        self.paced = 0.0  # seconds slept to stay inside the rate limit
        self._window: collections.deque[float] = collections.deque()
        self._window_max = 90  # requests per window until HubSpot's headers say otherwise
        self._window_seconds = 10.0
        self._transport = transport
        self._http = self._new_http()

    def _new_http(self) -> httpx.Client:
        per_read = min(self.timeout, self.deadline)
        return httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(per_read, connect=min(per_read, 10.0)),
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "User-Agent": "calcformula",
            },
            transport=self._transport,
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

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def retry_summary(self) -> str | None:
        """One line for the end of a command, when any retry or rate-limit wait happened."""
        if not self.retries:
            return None
        return (
            f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}, "
            f"{self.waited:.1f} s spent waiting (at most {self.retry_budget:g} s, "
            f"{RETRY_BUDGET_VARIABLE})"
        )

    # --- waiting ------------------------------------------------------------------------------

    def _pace(self, seconds: float) -> None:
        """Sleep to stay inside the rate limit (not a retry, so outside the retry budget),
        clamped like every wait the server's headers suggest."""
        seconds = min(max(seconds, 0.0), self.max_wait)
        self.paced += seconds
        if seconds > 0:
            self.sleep(seconds)

    def _wait(self, seconds: float, why: str) -> None:
        """Sleep before a retry, within the clamp and the total budget."""
        seconds = min(max(seconds, 0.0), self.max_wait)
        if self.waited + seconds > self.retry_budget:
            raise HubSpotError(
                self.redact(
                    f"{why}; giving up: retries have already waited {self.waited:.1f} s "
                    f"(the limit is {self.retry_budget:g} s, {RETRY_BUDGET_VARIABLE})"
                )
            )
        self.waited += seconds
        if seconds > 0:
            self.sleep(seconds)

    def _retry(self, seconds: float, why: str, attempt: int, attempts: int) -> None:
        seconds = min(max(seconds, 0.0), self.max_wait)
        self.notify(
            self.redact(f"{why}; retrying in {seconds:.1f} s (attempt {attempt + 1} of {attempts})")
        )
        self._wait(seconds, why)
        self.retries += 1

    def _throttle(self) -> None:
        now = time.monotonic()
        window = self._window
        while window and now - window[0] > self._window_seconds:
            window.popleft()
        if len(window) >= self._window_max:
            self._pace(max(0.0, self._window_seconds - (now - window[0])) + 0.05)
        window.append(time.monotonic())

    def _learn_limits(self, headers: Mapping[str, str]) -> None:
        try:
            maximum = int(headers.get("X-HubSpot-RateLimit-Max", "0")[:12])
            interval = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "0")[:12])
        except ValueError:
            return
        if 0 < maximum < 10**6 and 0 < interval < 10**9:
            # Leave headroom: private apps in one account share the limit.
            self._window_max = max(1, int(maximum * 0.9))
            self._window_seconds = min(interval / 1000, self.max_wait)
        remaining = headers.get("X-HubSpot-RateLimit-Remaining", "").strip()
        if (
            remaining.isascii()
            and remaining.isdigit()
            and len(remaining) < 8
            and int(remaining) <= 1
        ):
            self._pace(self._window_seconds / 2)

    def _delay(self, attempt: int) -> float:
        return float(min(self.backoff * (2 ** (attempt - 1)), self.max_wait))

    def _retry_after(self, headers: Mapping[str, str], attempt: int) -> float:
        """Retry-After in seconds or as an HTTP date; anything that does not read as a finite,
        non-negative wait falls back to our own backoff; the result is clamped."""
        fallback = max(self._delay(attempt), min(self._window_seconds / 4, self.max_wait))
        value = (headers.get("Retry-After") or "").strip()
        seconds: float | None = None
        if value:
            try:
                seconds = float(value)
            except ValueError:
                try:
                    moment = email.utils.parsedate_to_datetime(value)
                    seconds = moment.timestamp() - time.time()
                except (TypeError, ValueError, IndexError, OverflowError):
                    seconds = None
        if seconds is None or math.isnan(seconds) or seconds < 0:
            return min(fallback, self.max_wait)
        return min(seconds, self.max_wait)

    # --- one exchange, under the deadline ----------------------------------------------------

    def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        files: Mapping[str, tuple[str, bytes, str]] | None,
    ) -> _Raw:
        """Send one request and read the whole answer, all within the deadline. The work runs
        in a daemon thread so that the caller returns at the deadline even when the server
        trickles header bytes; the connection is then closed, which ends the thread."""
        outcome: dict[str, Any] = {}
        http = self._http

        def work() -> None:
            try:
                if files is not None:
                    request = http.build_request(
                        method, path, params=params, data=body, files=dict(files)
                    )
                else:
                    request = http.build_request(
                        method,
                        path,
                        params=params,
                        content=json.dumps(body) if body is not None else None,
                        headers={"Content-Type": "application/json"} if body is not None else None,
                    )
                response = http.send(request, stream=True)
                try:
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > MAX_BODY:
                            raise _Cut(f"the answer is larger than {MAX_BODY // 2**20} MB")
                        chunks.append(chunk)
                finally:
                    response.close()
                outcome["raw"] = _Raw(response.status_code, response.headers, b"".join(chunks))
            except BaseException as error:  # handed to the caller, which classifies it
                outcome["error"] = error

        worker = threading.Thread(target=work, name="calcformula-http", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            # Abandon the exchange: a fresh pool for later requests, the old one closed so the
            # worker's socket dies.
            self._http = self._new_http()
            with contextlib.suppress(Exception):  # closing a pool mid-request may complain
                http.close()
            raise DeadlineExceeded(
                self.redact(
                    f"{method} {path}: {self.host} did not finish answering within "
                    f"{self.deadline:g} s ({DEADLINE_VARIABLE})"
                )
            )
        if "error" in outcome:
            raise outcome["error"]
        raw: _Raw = outcome["raw"]
        return raw

    # --- requests -----------------------------------------------------------------------------

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
        safe to repeat. `files`: a multipart upload (the imports API), never repeated.
        A successful answer is JSON (or empty); anything else raises `ResponseError`."""
        safe_to_repeat = (reads or method in ("GET", "PATCH", "DELETE", "PUT")) and files is None
        attempt = 0
        connect_attempt = 0
        while True:
            attempt += 1
            self._throttle()
            self.requests += 1
            try:
                raw = self._exchange(method, path, params, body, files)
            except DeadlineExceeded as error:
                if not safe_to_repeat:
                    raise AmbiguousWrite(
                        f"{error.message}; the outcome of the write is unknown"
                    ) from None
                raise
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
                raise HubSpotError(
                    self.redact(f"{method} {path}: not a valid request URL ({error})")
                ) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                # Nothing was sent, so even a create may be repeated.
                attempt -= 1
                connect_attempt += 1
                reason = _connect_reason(error)
                if connect_attempt > len(CONNECT_DELAYS):
                    raise HubSpotError(
                        self.redact(
                            f"cannot connect to {self.host}: {reason} ({method} {path}, "
                            f"{connect_attempt} attempts); check {BASE_URL_VARIABLE} and "
                            "the network"
                        )
                    ) from None
                self._retry(
                    CONNECT_DELAYS[connect_attempt - 1],
                    f"cannot connect to {self.host}: {reason}",
                    connect_attempt,
                    len(CONNECT_DELAYS) + 1,
                )
                continue
            except (httpx.HTTPError, _Cut) as error:
                problem = f"{method} {path}: {_transport_reason(error)}"
                if not safe_to_repeat:
                    raise AmbiguousWrite(
                        self.redact(f"{problem}; the outcome is unknown")
                    ) from None
                if attempt >= self.max_attempts or isinstance(error, _Cut):
                    raise HubSpotError(
                        self.redact(f"{problem} after {attempt} attempt(s)")
                    ) from None
                self._retry(self._delay(attempt), problem, attempt, self.max_attempts)
                continue
            self._learn_limits(raw.headers)
            status = raw.status
            if status in ok:
                data = self._success_body(method, path, raw)
                if method != "GET" and not reads:
                    self.writes += 1
                return Response(status, data, raw.headers)
            data = _error_body(raw.content)
            if status == 429:
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
                self._retry(
                    self._retry_after(raw.headers, attempt),
                    f"{method} {path}: rate limited (429)",
                    attempt,
                    self.max_attempts,
                )
                continue
            if status >= 500:
                if not safe_to_repeat:
                    raise AmbiguousWrite(
                        self.redact(
                            f"{method} {path}: HubSpot answered {status}; the outcome is unknown"
                        ),
                        status,
                        None,
                        _correlation(data),
                    )
                if attempt < self.max_attempts:
                    self._retry(
                        self._delay(attempt),
                        f"{method} {path}: HubSpot answered {status}",
                        attempt,
                        self.max_attempts,
                    )
                    continue
            raise self._error(method, path, status, data)

    def _success_body(self, method: str, path: str, raw: _Raw) -> Any:
        content = raw.content
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except (ValueError, RecursionError):
            kind = raw.headers.get("Content-Type", "no content type")
            raise ResponseError(
                self.redact(
                    f"HubSpot's answer to {method} {path} ({raw.status}, {kind[:60]}) is not "
                    f"JSON: {_excerpt(content)!r}; nothing was done with it"
                ),
                raw.status,
            ) from None

    def malformed(self, method: str, path: str, problem: str) -> ResponseError:
        """The error for a JSON answer whose shape is not what HubSpot documents."""
        return ResponseError(
            self.redact(
                f"HubSpot's answer to {method} {path} is not what HubSpot documents: {problem}; "
                "nothing was done with it"
            )
        )

    def _error(self, method: str, path: str, status: int, data: Any) -> HubSpotError:
        category = message = None
        details: list[str] = []
        if isinstance(data, dict):
            category = _text(data.get("category")) or _text(data.get("errorType"))
            message = _text(data.get("message"))
            errors = data.get("errors")
            for item in errors if isinstance(errors, list) else []:
                if isinstance(item, dict) and _text(item.get("message")):
                    details.append(_text(item.get("message")) or "")
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
            text += f"\n  check {TOKEN_VARIABLE} (a private-app or service-key token)"
        correlation = _correlation(data)
        if correlation:
            text += f"\n  correlation id: {correlation}"
        return HubSpotError(self.redact(text), status, category, correlation, data)

    # --- shapes -------------------------------------------------------------------------------

    def _object(self, method: str, path: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.malformed(method, path, f"expected an object, got {_kind(data)}")
        return data

    def results(
        self,
        method: str,
        path: str,
        data: Any,
        check: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> list[dict[str, Any]]:
        data = self._object(method, path, data)
        results = data.get("results")
        if not isinstance(results, list):
            raise self.malformed(method, path, f"`results` is {_kind(results)}, not a list")
        for index, item in enumerate(results):
            if not isinstance(item, dict):
                raise self.malformed(method, path, f"results[{index}] is {_kind(item)}")
            problem = check(item) if check else None
            if problem:
                raise self.malformed(method, path, f"results[{index}]: {problem}")
        return results

    def pages(
        self, path: str, params: Mapping[str, str], limit: int | None = None, page: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every result of a paged GET, following `paging.next.after`. A repeated cursor, or a
        next cursor after an empty page, stops with an error; a result whose `id` was already
        given is not given again."""
        cursors: set[str] = set()
        ids: set[str] = set()
        given = 0
        after: str | None = None
        while limit is None or given < limit:
            query = dict(params)
            query["limit"] = str(page if limit is None else min(page, limit - given))
            if after is not None:
                query["after"] = after
            data = self.request("GET", path, params=query).data
            results = self.results("GET", path, data)
            for item in results:
                identifier = item.get("id")
                if identifier is not None:
                    if str(identifier) in ids:
                        continue
                    ids.add(str(identifier))
                given += 1
                yield item
                if limit is not None and given >= limit:
                    return
            paging = data.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            cursor = following.get("after") if isinstance(following, dict) else None
            if cursor is None:
                return
            if not isinstance(cursor, (str, int)) or isinstance(cursor, bool):
                raise self.malformed("GET", path, f"paging.next.after is {_kind(cursor)}")
            after = str(cursor)
            if after in cursors:
                raise ResponseError(
                    self.redact(
                        f"GET {path}: HubSpot sent the paging cursor {after[:40]!r} a second "
                        f"time; stopped after {given} result(s) rather than loop"
                    )
                )
            if not results:
                raise ResponseError(
                    self.redact(
                        f"GET {path}: HubSpot sent an empty page with a next cursor; stopped "
                        f"after {given} result(s)"
                    )
                )
            cursors.add(after)

    # --- the Properties API -------------------------------------------------------------------

    def list_properties(self, object_name: str, archived: bool = False) -> list[dict[str, Any]]:
        path = f"{self.prefix}/{segment(object_name)}"
        response = self.request("GET", path, params={"archived": "true" if archived else "false"})
        return self.results("GET", path, response.data, _property_problem)

    def get_property(
        self, object_name: str, name: str, archived: bool = False
    ) -> dict[str, Any] | None:
        path = f"{self.prefix}/{segment(object_name)}/{segment(name)}"
        try:
            response = self.request("GET", path, params={"archived": "true"} if archived else None)
        except HubSpotError as error:
            if error.status == 404 and not isinstance(error, ResponseError):
                return None
            raise
        data = self._object("GET", path, response.data)
        problem = _property_problem(data)
        if problem:
            raise self.malformed("GET", path, problem)
        return data

    def create_property(self, object_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        path = f"{self.prefix}/{segment(object_name)}"
        response = self.request("POST", path, body=payload)
        return response.data if isinstance(response.data, dict) else {}

    def update_property(
        self, object_name: str, name: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        response = self.request(
            "PATCH", f"{self.prefix}/{segment(object_name)}/{segment(name)}", body=payload
        )
        return response.data if isinstance(response.data, dict) else {}

    def archive_property(self, object_name: str, name: str) -> None:
        self.request("DELETE", f"{self.prefix}/{segment(object_name)}/{segment(name)}")

    def list_groups(self, object_name: str) -> list[dict[str, Any]]:
        path = f"{self.prefix}/{segment(object_name)}/groups"
        response = self.request("GET", path)
        return self.results("GET", path, response.data, _group_problem)

    def create_group(self, object_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request(
            "POST", f"{self.prefix}/{segment(object_name)}/groups", body=payload
        )
        return response.data if isinstance(response.data, dict) else {}

    def account_details(self) -> dict[str, Any]:
        path = f"{self.account_prefix}/details"
        data = self._object("GET", path, self.request("GET", path).data)
        portal = data.get("portalId")
        if not isinstance(portal, (int, str)) or isinstance(portal, bool) or portal == "":
            raise self.malformed("GET", path, "`portalId` is missing")
        return data


def _connect_reason(error: Exception) -> str:
    text = str(error).lower()
    if isinstance(error, httpx.ConnectTimeout):
        return "the connection timed out"
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
        return "the host name does not resolve"
    return f"the connection failed ({type(error).__name__})"


def _transport_reason(error: BaseException) -> str:
    if isinstance(error, _Cut):
        return str(error)
    if isinstance(error, httpx.TimeoutException):
        return f"no data for a while ({type(error).__name__})"
    if isinstance(error, httpx.DecodingError):
        return "the answer's content encoding could not be decoded"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the connection broke off or the answer is not valid HTTP"
    return type(error).__name__


def _error_body(content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return {"message": _excerpt(content, 300)}


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:300]
    return "".join(c if c.isprintable() or c == "\n" else " " for c in text)


def _kind(value: Any) -> str:
    if value is None:
        return "missing or null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


_PROPERTY_TEXT = ("label", "type", "fieldType", "groupName", "description")
_PROPERTY_FLAGS = ("hubspotDefined", "hidden", "calculated", "archived", "formField")


def _property_problem(item: dict[str, Any]) -> str | None:
    """What in one `Property` is not what HubSpot documents (None: fine)."""
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return f"`name` is {_kind(name)}"
    for key in _PROPERTY_TEXT:
        if key in item and item[key] is not None and not isinstance(item[key], str):
            return f"{name}: `{key}` is {_kind(item[key])}, not text"
    formula = item.get("calculationFormula")
    if formula is not None and not isinstance(formula, str):
        return f"{name}: `calculationFormula` is {_kind(formula)}, not text"
    for key in _PROPERTY_FLAGS:
        if key in item and item[key] is not None and not isinstance(item[key], bool):
            return f"{name}: `{key}` is {_kind(item[key])}, not true/false"
    options = item.get("options")
    if options is not None and (
        not isinstance(options, list) or not all(isinstance(o, dict) for o in options)
    ):
        return f"{name}: `options` is not a list of objects"
    metadata = item.get("modificationMetadata")
    if metadata is not None and not isinstance(metadata, dict):
        return f"{name}: `modificationMetadata` is {_kind(metadata)}"
    order = item.get("displayOrder")
    if order is not None and (not isinstance(order, int) or isinstance(order, bool)):
        return f"{name}: `displayOrder` is {_kind(order)}, not a whole number"
    return None


def _group_problem(item: dict[str, Any]) -> str | None:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return f"`name` is {_kind(name)}"
    return None


def _correlation(data: Any) -> str | None:
    if isinstance(data, dict) and data.get("correlationId"):
        return _text(data["correlationId"])
    return None


def _missing_scopes(data: Any) -> list[str]:
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    contexts = [data.get("context")]
    errors = data.get("errors")
    for item in errors if isinstance(errors, list) else []:
        if isinstance(item, dict):
            contexts.append(item.get("context"))
    for context in contexts:
        if isinstance(context, dict):
            for key in ("missingScopes", "requiredGranularScopes", "requiredScopes"):
                values = context.get(key)
                if isinstance(values, list):
                    found.extend(_text(v) or "" for v in values)
    return [s for s in dict.fromkeys(found) if s]


def _scope_hint(path: str) -> str:
    for object_name, scopes in SCOPES.items():
        if f"/{object_name}" in path:
            return scopes
    return "crm.schemas.<object>.read and crm.schemas.<object>.write"
