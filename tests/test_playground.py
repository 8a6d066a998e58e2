"""The browser playground (playground/, docs/playground.md), driven in headless Chromium.

The built page is served from a loopback server; Chromium resolves no other host, and every
request the page (and its Python worker) makes is logged and must stay on that origin. What
the page shows is compared with what the command prints for the same input.

Needs the `playwright` package (the `test` extra) and Debian's Chromium. Without them these
tests are skipped, unless CALCFORMULA_REQUIRE_BROWSER=1 (as `.ci/run` sets) makes that a
failure. CALCFORMULA_UPDATE_SCREENSHOT=1 rewrites docs/playground.png.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "playground" / "dist"
EXAMPLES = ROOT / "examples"
CHROMIUM = os.environ.get("CALCFORMULA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Any host but the loopback test server fails to resolve: nothing can leave the machine,
    # whatever the page (or its worker) asks for. The request log below names any attempt.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
REQUIRED = os.environ.get("CALCFORMULA_REQUIRE_BROWSER") == "1"


def _unavailable() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if shutil.which("npm") is None:
        return "npm is needed to build the playground"
    return None


_REASON = _unavailable()
if _REASON is not None and REQUIRED:
    pytest.fail(f"CALCFORMULA_REQUIRE_BROWSER=1 but {_REASON}", pytrace=False)
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def build_if_stale() -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "playground" / "build.py"), "--if-stale"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 -- http.server's own class attribute
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".whl": "application/zip",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    build_if_stale()
    handler = functools.partial(_Quiet, directory=str(DIST))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Session:
    """A browser context on the playground, logging every request it makes."""

    def __init__(self, browser: Browser, site: str, width: int = 1200) -> None:
        self.site = site
        self.origin = urlsplit(site).netloc
        self.requests: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).netloc == self.origin:
            route.continue_()
        else:
            route.abort()

    def open(self, url: str | None = None) -> Page:
        page = self.context.new_page()
        page.goto(url or self.site)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        return page

    def outside(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).netloc != self.origin]


@pytest.fixture(scope="module")
def session(browser: Browser, site: str) -> Iterator[Session]:
    opened = Session(browser, site)
    yield opened
    opened.context.close()
    assert opened.outside() == [], "the page requested other origins"


@pytest.fixture(scope="module")
def shared_page(session: Session) -> Page:
    """One page for the tests that need no fresh load (Pyodide starts once)."""
    return session.open()


@pytest.fixture
def page(shared_page: Page, session: Session) -> Iterator[Page]:
    shared_page.set_viewport_size({"width": 1200, "height": 900})
    shared_page.evaluate("window.__playground.reset()")
    settle(shared_page)
    yield shared_page
    assert session.outside() == [], "the page requested other origins"


def settle(page: Page) -> None:
    page.wait_for_function("() => window.__playground.settled()", timeout=30_000)


def type_formula(page: Page, text: str) -> None:
    editor = page.locator("[data-testid=formula] .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)
    page.keyboard.press("Escape")  # close any completion list
    settle(page)


def shown_diagnostics(page: Page) -> list[tuple[str, str]]:
    items = page.locator("[data-testid=diagnostics] li[data-code]")
    return [
        (item.get_attribute("data-code") or "", item.locator(".message").inner_text())
        for item in items.all()
    ]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calcformula", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def cli_diagnostics(formula: str, *options: str) -> list[dict[str, Any]]:
    result = cli("check", "--expr", formula, "--format", "json", *options)
    diagnostics: list[dict[str, Any]] = json.loads(result.stdout)["diagnostics"]
    return diagnostics


def test_ui_editor_if_shows_cf107_and_its_fix_removes_it(page: Page) -> None:
    formula = "if(a, b, c)"
    type_formula(page, formula)
    expected = cli_diagnostics(formula)
    assert "CF107" in [d["code"] for d in expected]
    assert shown_diagnostics(page) == [(d["code"], d["message"]) for d in expected]
    cf107 = next(d for d in expected if d["code"] == "CF107")
    edit = cf107["fixes"][0]["edits"][0]
    fixed = formula[: edit["start"]["offset"]] + edit["new_text"] + formula[edit["end"]["offset"] :]

    fix = page.locator("[data-testid=diagnostics] li[data-code=CF107] [data-testid=fix]")
    assert fix.count() == 1
    fix.click()
    page.wait_for_function(f"() => window.__playground.formula() === {json.dumps(fixed)}")
    settle(page)
    assert "CF107" not in [code for code, _ in shown_diagnostics(page)]
    assert shown_diagnostics(page) == [(d["code"], d["message"]) for d in cli_diagnostics(fixed)]


def test_diagnostics_match_the_command_with_a_schema_and_a_type(page: Page) -> None:
    schema = (EXAMPLES / "schema" / "deals.json").read_text()
    page.fill("[data-testid=schema]", schema)
    page.fill("[data-testid=object]", "deals")
    page.select_option("[data-testid=declared-type]", "bool")
    formula = "amount + dealname + amout"
    type_formula(page, formula)
    expected = cli_diagnostics(
        formula, "--schema", str(EXAMPLES / "schema" / "deals.json"), "--type", "bool"
    )
    assert len(expected) >= 2
    assert shown_diagnostics(page) == [(d["code"], d["message"]) for d in expected]


def test_completion_offers_a_schema_property_with_its_wrapper(page: Page) -> None:
    page.fill("[data-testid=schema]", (EXAMPLES / "schema" / "deals.json").read_text())
    type_formula(page, "1 + ")
    page.locator("[data-testid=formula] .cm-content").click()
    page.keyboard.press("End")
    page.keyboard.type("dealna")
    selected = page.locator(".cm-tooltip-autocomplete li[aria-selected=true]", has_text="dealname")
    selected.first.wait_for(timeout=10_000)
    page.wait_for_timeout(200)  # the list ignores Enter for a moment after it changes
    page.keyboard.press("Enter")
    settle(page)
    # dealname is a text property: a formula must read it as string(dealname).
    assert page.evaluate("window.__playground.formula()") == "1 + string(dealname)"


def _values(page: Page) -> dict[str, Decimal | str | bool | None]:
    cells = page.locator("[data-testid=results] tbody tr")
    found: dict[str, Decimal | str | bool | None] = {}
    for row in cells.all():
        value = row.locator("td.value")
        raw = value.get_attribute("data-value") or ""
        evaluable = value.get_attribute("data-evaluable") == "true"
        found[row.get_attribute("data-id") or ""] = (
            json.loads(raw, parse_float=Decimal, parse_int=Decimal) if evaluable else "?"
        )
    return found


def _cli_values(
    formula: str, records: Path, schema: Path
) -> dict[str, Decimal | str | bool | None]:
    result = cli(
        "eval", "--expr", formula, "--records", str(records), "--schema", str(schema),
        "--format", "json", "--engine", "python",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout, parse_float=Decimal, parse_int=Decimal)["results"]
    return {item["id"]: item["value"] if item.get("evaluable", True) else "?" for item in items}


@pytest.mark.parametrize(
    ("records_file", "schema_file", "formula"),
    [
        (
            "deals.csv",
            "deals.json",
            "if is_present(hs_exchange_rate) then round_nearest(amount * hs_exchange_rate, 2) "
            "else amount",
        ),
        (
            "contacts.ndjson",
            "contacts.json",
            "concatenate(string(firstname), ' ', string(lastname)) + ''",
        ),
        ("contacts.json", "contacts.json", "demographic_score + behavioral_score"),
    ],
)
def test_pasted_records_give_the_command_values(
    page: Page, tmp_path: Path, records_file: str, schema_file: str, formula: str
) -> None:
    schema = EXAMPLES / "schema" / schema_file
    if records_file == "contacts.json":  # HubSpot's API shape, built from the NDJSON sample
        lines = (EXAMPLES / "records" / "contacts.ndjson").read_text().splitlines()[:15]
        text = json.dumps({"results": [json.loads(line) for line in lines]}, indent=1)
    else:
        lines = (EXAMPLES / "records" / records_file).read_text().splitlines(keepends=True)
        text = "".join(lines[:25])
    records = tmp_path / records_file
    records.write_text(text)
    expected = _cli_values(formula, records, schema)
    assert len(expected) >= 10

    page.fill("[data-testid=schema]", schema.read_text())
    page.fill("[data-testid=records]", text)
    type_formula(page, formula)
    assert _values(page) == expected
    assert any(v is None for v in expected.values()), "the sample should include a blank"


def test_trace_names_the_blank_input(page: Page) -> None:
    page.fill("[data-testid=schema]", (EXAMPLES / "schema" / "deals.json").read_text())
    page.fill(
        "[data-testid=records]",
        "Record ID,Amount,Exchange rate\n1,100,1.1\n2,250,\n",
    )
    type_formula(page, "amount * hs_exchange_rate")
    row = page.locator("[data-testid=results] tbody tr[data-id='2']")
    assert row.locator("td.value").inner_text() == "(blank)"
    row.locator("[data-testid=trace-button]").click()
    trace = page.locator("[data-testid=trace]")
    trace.locator("[data-testid=blank-causes]").wait_for(timeout=10_000)
    assert "hs_exchange_rate" in trace.locator("[data-testid=blank-causes]").inner_text()
    assert "amount" not in trace.locator("[data-testid=blank-causes]").inner_text()


def test_each_record_has_a_trace_button(page: Page) -> None:
    page.fill("[data-testid=records]", "Record ID,a\n1,\n")
    type_formula(page, "a * 2")
    assert page.locator("[data-testid=trace-button]").count() == 1


def test_hubspot_form_and_sql(page: Page) -> None:
    formula = "IF a=1 THEN 'x' ELSE 'y'"
    type_formula(page, formula)
    stored = subprocess.run(
        [sys.executable, "-m", "calcformula", "fmt", "--style", "hubspot", "-"],
        input=formula,
        capture_output=True,
        text=True,
        check=True,
    )
    assert page.locator("[data-testid=hubspot-form]").inner_text() == stored.stdout.strip()
    page.select_option("[data-testid=dialect]", "postgres")
    settle(page)
    sql = cli("sql", "--expr", formula, "--dialect", "postgres", "--pretty")
    assert sql.returncode == 0, sql.stderr
    assert page.locator("[data-testid=sql]").inner_text().strip() == sql.stdout.strip()


def test_share_link_restores_the_state(page: Page, session: Session) -> None:
    schema = (EXAMPLES / "schema" / "contacts.json").read_text()
    records = "".join((EXAMPLES / "records" / "contacts.ndjson").read_text().splitlines(True)[:5])
    page.fill("[data-testid=schema]", schema)
    page.fill("[data-testid=records]", records)
    page.select_option("[data-testid=declared-type]", "string")
    page.select_option("[data-testid=dialect]", "snowflake")
    type_formula(page, "concatenate(string(firstname), ' — ', string(lastname))")
    page.click("[data-testid=share]")
    link = page.locator("[data-testid=share-link]").input_value()
    assert link.startswith(session.site) and "#s=" in link
    state = page.evaluate("window.__playground.formula()")
    values = _values(page)

    other = session.open(link)
    settle(other)
    assert other.evaluate("window.__playground.formula()") == state
    assert other.locator("[data-testid=schema]").input_value() == schema
    assert other.locator("[data-testid=records]").input_value() == records
    assert other.locator("[data-testid=declared-type]").input_value() == "string"
    assert other.locator("[data-testid=dialect]").input_value() == "snowflake"
    assert _values(other) == values and len(values) == 5
    other.close()


def test_nothing_leaves_the_origin(page: Page, session: Session, browser: Browser) -> None:
    type_formula(page, "round_nearest(1.005, 2)")
    # The log sees the worker's requests too (Pyodide and the wheels), all on this origin.
    assert any(u.endswith("pyodide.asm.wasm") for u in session.requests)
    assert any(u.endswith(".whl") for u in session.requests)
    assert session.outside() == []
    # The page's own policy refuses other origins before any request is made.
    refused = page.evaluate(
        "fetch('https://cdn.jsdelivr.net/npm/pyodide/pyodide.js').then(() => false, () => true)"
    )
    assert refused is True
    assert session.outside() == []
    # And the log does see a request for another host when a page makes one.
    other = Session(browser, session.site)
    try:
        blank = other.context.new_page()
        blank.evaluate("fetch('https://cdn.jsdelivr.net/x').catch(() => null)")
        blank.wait_for_timeout(300)
        assert other.outside() == ["https://cdn.jsdelivr.net/x"]
    finally:
        other.context.close()


def test_python_is_restored_from_the_snapshot(page: Page, session: Session) -> None:
    # The worker restores Pyodide's memory with calcformula imported (build.py's snapshot)
    # rather than starting Python: were the snapshot broken, it would fall back and every
    # other test would pass, only slower.
    assert page.evaluate("window.__playground.phases.snapshot") is True
    assert any(u.endswith("/snapshot.bin.gz") for u in session.requests)


def test_keyboard_only_at_360_pixels(page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    # Readable at 360 px: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Every control has a label (an accessible name).
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll(
            'button, select, textarea, input, [contenteditable=true]')].filter(e => {
            const labelled = e.labels && e.labels.length > 0;
            return !(labelled || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
                     || (e.textContent || '').trim());
        }).map(e => e.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    # Keyboard only: Tab to the editor, type, then Tab to the fix and press Enter.
    page.focus("[data-testid=example]")
    for _ in range(3):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cm-content')"):
            break
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")
    page.keyboard.type("if(is_present(a), a, 0)")
    page.keyboard.press("Escape")
    settle(page)
    for _ in range(6):
        page.keyboard.press("Tab")  # the editor does not trap Tab
        if page.evaluate("document.activeElement.dataset.testid === 'fix'"):
            break
    assert page.evaluate("document.activeElement.dataset.testid === 'fix'")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => window.__playground.formula() === 'if is_present(a) then a else 0'"
    )
    settle(page)
    assert "CF107" not in [code for code, _ in shown_diagnostics(page)]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_screenshot_for_the_docs(page: Page, tmp_path: Path) -> None:
    page.select_option("[data-testid=example]", label="Weighted amount")
    settle(page)
    page.locator("[data-testid=results] tbody tr").first.wait_for()
    why = page.locator("[data-testid=results] tr:has(td.blank) [data-testid=trace-button]")
    if why.count():
        why.first.click()
        page.locator("[data-testid=trace-explanation]").wait_for()
    target = (
        ROOT / "docs" / "playground.png"
        if os.environ.get("CALCFORMULA_UPDATE_SCREENSHOT") == "1"
        else tmp_path / "playground.png"
    )
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000


def test_regex_matches_is_not_evaluable_without_re2(page: Page) -> None:
    # Pyodide has no google-re2: the page says the value is unknown rather than guess it with
    # another regex engine (the command, with RE2, gives true or false).
    page.fill("[data-testid=records]", "Record ID,phone\n1,12345\n")
    type_formula(page, "regex_matches(string(phone), '[0-9]+')")
    assert shown_diagnostics(page) == []
    value = page.locator("[data-testid=results] tbody tr[data-id='1'] td.value")
    assert value.inner_text() == "(not evaluable)"
    notes = page.locator("[data-testid=results] tbody tr[data-id='1'] td").nth(2).inner_text()
    assert notes.startswith("CF507 ") and "google-re2" in notes
