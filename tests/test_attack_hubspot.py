"""Attacks on the HubSpot client's response handling (issue 12): a local HTTP server answers
with whatever Hypothesis makes up (statuses, headers including Retry-After, Content-Type,
Content-Length that lies, Content-Encoding and Transfer-Encoding, and any body), and every
outcome must be a result or one of our own error types, with a message that names the
request and never contains the token. The server is real (a loopback socket); nothing of
ours is patched."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from calcformula.hubspot.client import HubSpotClient, HubSpotError

TOKEN = "pat-na1-ATTACK-TOKEN-0123456789"


class ScriptedServer:
    """Answers each connection with the bytes in `answer`, then closes it."""

    def __init__(self) -> None:
        self.answer = b""
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    received = b""
                    while b"\r\n\r\n" not in received:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        received += chunk
                    head, _, rest = received.partition(b"\r\n\r\n")
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                            while len(rest) < length:
                                chunk = connection.recv(65536)
                                if not chunk:
                                    break
                                rest += chunk
                    connection.sendall(self.answer)
                    connection.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.listener.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


STATUSES = st.one_of(
    st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 423, 429, 500, 502, 503]),
    st.integers(200, 599),
)
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
HEADERS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "Retry-After",
                "Content-Type",
                "Content-Encoding",
                "X-HubSpot-RateLimit-Max",
                "X-HubSpot-RateLimit-Interval-Milliseconds",
                "X-HubSpot-RateLimit-Remaining",
                "Location",
            ]
        ),
        st.one_of(
            HEADER_TEXT,
            st.sampled_from(
                [
                    "nan",
                    "inf",
                    "-1",
                    "1000000000000",
                    "Fri, 31 Dec 9999 23:59:59 GMT",
                    "gzip",
                    "br",
                    "application/json; charset=utf-16",
                    "text/html",
                    "0",
                    "1",
                    "²",
                ]
            ),
        ),
    ),
    max_size=4,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["results", "name", "type", "paging", "message", "errors", "portalId"])
            | st.text(max_size=8),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b"<html><body>Bad gateway</body></html>",
            b'{"results": [{"name": "amount"',
            b"{}",
            b'{"results": [{"name": 5}]}',
            b'{"results": [], "paging": {"next": {"after": []}}}',
            b'{"status": "error", "message": "' + TOKEN.encode() + b'", "errors": 5}',
            b'{"policyName": "DAILY"}',
            b"[" * 5000,
            b"\xff\xfe{\x00}\x00",
        ]
    ),
)
LENGTHS = st.one_of(st.none(), st.just("right"), st.integers(0, 400).map(str), st.just("-3"))


def answer(status: int, headers: list[tuple[str, str]], body: bytes, length: str | None) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length == "right":
        lines.append(f"Content-Length: {len(body)}")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


CALLS = ["list", "get", "groups", "account", "create", "pages"]


def call(client: HubSpotClient, which: str) -> Any:
    if which == "list":
        return client.list_properties("deals")
    if which == "get":
        return client.get_property("deals", "amount")
    if which == "groups":
        return client.list_groups("deals")
    if which == "account":
        return client.account_details()
    if which == "create":
        return client.create_property("deals", {"name": "x"})
    return list(client.pages("/crm/objects/2026-09/deals", {}, limit=300))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(status=200, headers=[], body=b"[" * 5000, length="right", which="list")
@example(status=429, headers=[("Retry-After", "nan")], body=b"{}", length="right", which="get")
@example(status=200, headers=[("Content-Encoding", "gzip")], body=b"{}", length=None, which="list")
@example(status=200, headers=[], body=b'{"results": []}', length="400", which="list")
@given(
    status=STATUSES,
    headers=HEADERS,
    body=BODIES,
    length=LENGTHS,
    which=st.sampled_from(CALLS),
)
def test_any_answer_gives_a_result_or_our_error(
    server: ScriptedServer,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    length: str | None,
    which: str,
) -> None:
    server.answer = answer(status, headers, body, length)
    lines: list[str] = []
    started = time.monotonic()
    with HubSpotClient(
        token=TOKEN,
        base_url=f"http://127.0.0.1:{server.port}",
        timeout=1.0,
        deadline=2.0,
        max_wait=0.01,
        retry_budget=0.05,
        max_attempts=2,
        backoff=0.0,
        notify=lines.append,
    ) as client:
        try:
            result = call(client, which)
        except HubSpotError as error:
            assert TOKEN not in error.message and TOKEN not in str(error)
            assert error.message.strip()
            named = any(
                word in error.message
                for word in ("/crm/", "/account-info/", "HubSpot", "127.0.0.1")
            )
            assert named, error.message
        else:
            assert result is None or isinstance(result, (dict, list))
    assert all(TOKEN not in line for line in lines)
    assert time.monotonic() - started < 10


def test_the_token_in_an_error_body_is_redacted(server: ScriptedServer) -> None:
    body = json.dumps({"message": f"bad token {TOKEN}", "category": TOKEN}).encode()
    server.answer = answer(400, [("Content-Type", "application/json")], body, "right")
    with (
        HubSpotClient(token=TOKEN, base_url=f"http://127.0.0.1:{server.port}") as client,
        pytest.raises(HubSpotError) as caught,
    ):
        client.list_properties("deals")
    assert TOKEN not in caught.value.message and "***" in caught.value.message
