"""The HubSpot client against a misbehaving local server over real HTTP: deadlines, clamped
waits, a bounded retry budget, malformed successful answers, repeated paging cursors, the base
URL and token rules, refused connections. Durations are shortened through the client's own
constructor arguments, never by patching our functions."""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections.abc import Iterator

import pytest

from calcformula.hubspot.client import (
    ConfigurationError,
    DeadlineExceeded,
    HubSpotClient,
    HubSpotError,
    ResponseError,
)
from tests.hubspot_fake import FakeHubSpot
from tests.test_hubspot_push import Hub, hubspot_defined

DEALS = "/crm/properties/2026-09/deals"


@pytest.fixture
def hubspot() -> Iterator[Hub]:
    fake = FakeHubSpot()
    fake.add_object("deals", ["dealinformation"], hubspot_defined("deals"))
    server = fake.serve()
    url = next(server)
    yield fake, url
    next(server, None)


def client(hub: Hub, **options: float) -> HubSpotClient:
    fake, url = hub
    settings: dict[str, float] = {"backoff": 0.01, "deadline": 5.0, **options}
    return HubSpotClient(token=fake.token, base_url=url, **settings)  # type: ignore[arg-type]


def http_answer(
    status: str, body: bytes, headers: str = "Content-Type: application/json\r\n"
) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


# --- deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["trickle", "trickle-headers"])
def test_a_trickling_server_cannot_hold_a_request_past_its_deadline(
    hubspot: Hub, kind: str
) -> None:
    fake, _ = hubspot
    # One byte every 0.2 s: each read succeeds well within httpx's per-read timeout.
    fake.fail("GET", DEALS, kind, seconds=0.2)
    started = time.monotonic()
    with client(hubspot, deadline=1.0) as api, pytest.raises(DeadlineExceeded) as caught:
        api.list_properties("deals")
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    assert f"GET {DEALS}" in caught.value.message and "1 s" in caught.value.message
    assert fake.token not in caught.value.message
    # The client goes on working after abandoning the exchange.
    with client(hubspot, deadline=1.0) as api:
        assert api.list_properties("deals")


def test_a_create_cut_by_the_deadline_is_ambiguous_not_repeated(hubspot: Hub) -> None:
    fake, _ = hubspot
    fake.fail("POST", DEALS, "slow", seconds=1.5)
    from calcformula.hubspot.client import AmbiguousWrite

    with client(hubspot, deadline=0.5) as api, pytest.raises(AmbiguousWrite):
        api.create_property("deals", {"name": "x"})
    assert [w for w in fake.writes if w[0] == "POST"] == [("POST", DEALS)]


# --- waits derived from the server -----------------------------------------------------------


def test_retry_after_is_honoured(hubspot: Hub) -> None:
    fake, _ = hubspot
    fake.fail("GET", DEALS, "429", times=2, retry_after="1")
    with client(hubspot) as api:
        assert api.list_properties("deals")
        assert api.retries == 2 and api.waited == pytest.approx(2.0)
        summary = api.retry_summary()
    moments = fake.requests_to("GET", DEALS)
    assert len(moments) == 3
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # the waits really happened
    assert summary is not None and "2 retries" in summary and "2.0 s" in summary


@pytest.mark.parametrize(
    "value",
    ["nan", "inf", "-inf", "-5", "1000000000000", "Fri, 31 Dec 9999 23:59:59 GMT", "soon", "1e309"],
)
def test_nonsense_retry_after_is_clamped(hubspot: Hub, value: str) -> None:
    fake, _ = hubspot
    fake.fail("GET", DEALS, "429", retry_after=value)
    started = time.monotonic()
    with client(hubspot, max_wait=0.3) as api:
        assert api.list_properties("deals")
        assert 0 <= api.waited <= 0.3
    assert time.monotonic() - started < 2.0


def test_nonsense_rate_limit_headers_are_clamped(hubspot: Hub) -> None:
    fake, _ = hubspot
    body = json.dumps({"results": [{"name": "amount", "type": "number"}]}).encode()
    for interval in ("1000000000000", "nan", "-1"):
        fake.fail(
            "GET",
            DEALS,
            "raw",
            raw=http_answer(
                "200 OK",
                body,
                "Content-Type: application/json\r\nX-HubSpot-RateLimit-Max: 1\r\n"
                f"X-HubSpot-RateLimit-Interval-Milliseconds: {interval}\r\n"
                "X-HubSpot-RateLimit-Remaining: 0\r\n",
            ),
        )
    started = time.monotonic()
    with client(hubspot, max_wait=0.2) as api:
        for _ in range(4):
            api.list_properties("deals")
        assert 0 < api.paced <= 4 * 0.2 + 0.01 and api.waited == 0
    assert time.monotonic() - started < 4.0


def test_the_total_time_of_retries_is_bounded(hubspot: Hub) -> None:
    fake, _ = hubspot
    fake.fail("GET", DEALS, "429", times=20, retry_after="1")
    started = time.monotonic()
    with (
        client(hubspot, max_attempts=20, retry_budget=1.5) as api,
        pytest.raises(HubSpotError) as caught,
    ):
        api.list_properties("deals")
    assert time.monotonic() - started < 3.0
    assert (
        "giving up" in caught.value.message
        and "CALCFORMULA_HTTP_RETRY_BUDGET" in caught.value.message
    )


# --- answers that are not what HubSpot documents ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>Service temporarily unavailable</body></html>", "text/html"),
        (b'{"results": [{"name": "amount", "type": "num', "application/json"),
        (b"{}", "application/json"),
        (b'{"results": {"name": "amount"}}', "application/json"),
        (b'{"results": [{"name": 5}]}', "application/json"),
        (b'{"results": [{"name": "a", "calculationFormula": ["x"]}]}', "application/json"),
        (b'{"results": [{"name": "a", "hubspotDefined": "no"}]}', "application/json"),
        (b'{"results": ["amount"]}', "application/json"),
        (b"[]", "application/json"),
        (b"[" * 100_000, "application/json"),
    ],
)
def test_a_malformed_200_is_an_error_naming_the_request(
    hubspot: Hub, body: bytes, content_type: str
) -> None:
    fake, _ = hubspot
    fake.fail(
        "GET", DEALS, "raw", raw=http_answer("200 OK", body, f"Content-Type: {content_type}\r\n")
    )
    with client(hubspot) as api, pytest.raises(ResponseError) as caught:
        api.list_properties("deals")
    assert f"GET {DEALS}" in caught.value.message
    assert fake.token not in caught.value.message


# --- paging ----------------------------------------------------------------------------------


def test_paging_stops_on_a_repeated_cursor_and_never_gives_a_record_twice(hubspot: Hub) -> None:
    fake, _ = hubspot
    for number in range(5):
        fake.add_record("deals", {"amount": str(number)})
    path = "/crm/objects/2026-09/deals"
    with client(hubspot) as api:
        every = list(api.pages(path, {"properties": "amount"}, page=2))
        assert len(every) == len({r["id"] for r in every}) == 5
        # The second page repeats a record and hands back the first page's cursor.
        first = json.dumps(
            {"results": [{"id": "1001"}, {"id": "1002"}], "paging": {"next": {"after": "2"}}}
        ).encode()
        again = json.dumps(
            {"results": [{"id": "1002"}, {"id": "1003"}], "paging": {"next": {"after": "2"}}}
        ).encode()
        fake.fail("GET", path, "raw", raw=http_answer("200 OK", first))
        fake.fail("GET", path, "raw", raw=http_answer("200 OK", again))
        seen: list[str] = []
        with pytest.raises(ResponseError) as caught:
            for record in api.pages(path, {}, page=2):
                seen.append(record["id"])
        assert seen == ["1001", "1002", "1003"]
        assert "cursor '2' a second time" in caught.value.message and path in caught.value.message


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.hubapi.com",
        "http://10.0.0.1:8080",
        "http://localhost.example.com",
        "ftp://x",
        "api.hubapi.com",
    ],
)
def test_a_base_url_that_is_not_https_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HubSpotClient(token="t", base_url=url)
    assert "HUBSPOT_API_BASE_URL" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1",
        "http://127.8.9.10:1",
        "http://[::1]:1",
        "http://localhost:1",
        "https://eu1.hubapi.com",
    ],
)
def test_https_and_loopback_base_urls_are_accepted(url: str) -> None:
    HubSpotClient(token="t", base_url=url).close()


def test_a_token_with_a_trailing_newline_is_trimmed(hubspot: Hub) -> None:
    fake, url = hubspot
    with HubSpotClient(token=f"  {fake.token}\r\n", base_url=url) as api:
        assert api.list_properties("deals")


@pytest.mark.parametrize(
    "token", ["pat-na1 secret", "pat-na1-\x00secret", "pat-na1-\tsecret", "pat-na1-sécret"]
)
def test_a_token_with_inner_whitespace_or_control_characters_is_refused(token: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HubSpotClient(token=token, base_url="http://127.0.0.1:1")
    message = str(caught.value)
    assert "HUBSPOT_ACCESS_TOKEN" in message and "secret" not in message and "sécret" not in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.0, 10.0**9])
def test_deadlines_must_be_finite_and_positive(value: float) -> None:
    with pytest.raises(ConfigurationError):
        HubSpotClient(token="t", base_url="http://127.0.0.1:1", deadline=value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_a_refused_connection_is_named_after_a_few_announced_retries() -> None:
    port = free_port()
    lines: list[str] = []
    started = time.monotonic()
    with (
        HubSpotClient(
            token="pat-na1-0000", base_url=f"http://127.0.0.1:{port}", notify=lines.append
        ) as api,
        pytest.raises(HubSpotError) as caught,
    ):
        api.create_property("deals", {"name": "x"})  # nothing was sent, so even a POST retries
    elapsed = time.monotonic() - started
    assert 3.0 <= elapsed < 6.0, elapsed
    assert len(lines) == 3 and all(
        f"127.0.0.1:{port}" in line and "retrying" in line for line in lines
    )
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in caught.value.message


def test_names_stay_inside_their_path_segment(hubspot: Hub) -> None:
    fake, _ = hubspot
    with client(hubspot) as api:
        assert api.get_property("deals", "x/../../../account-info/v3/details") is None
        for name in ("..", ".", "", "a\x00b"):
            with pytest.raises(HubSpotError) as caught:
                api.get_property("deals", name)
            assert "not a valid object or property name" in caught.value.message
    assert [p for _, p in fake.log] == [f"{DEALS}/x%2F..%2F..%2F..%2Faccount-info%2Fv3%2Fdetails"]
