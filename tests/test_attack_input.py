"""Hostile input (issue 12): each finding of the attack run against calcformula, reproduced
through the real CLI (a subprocess), the real language server (stdio) and a real PostgreSQL.

The checks are on results (what is printed, which diagnostics, exit codes); the few time
limits are hang guards, generous enough for a loaded machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from calcformula import check, dump, evaluate, parse
from calcformula.parser import MAX_DEPTH, MAX_FORMULA
from calcformula.render import EXCERPT, FRAGMENT, excerpt, redact
from calcformula.sql import compile_sql

TOKEN = "pat-na1-7c1f0e2a-9b4d-4e7a-8f21-5d3c6b9a0e11"
CALCFORMULA = [sys.executable, "-m", "calcformula"]


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CALCFORMULA, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


def with_token() -> dict[str, str]:
    return {**os.environ, "HUBSPOT_ACCESS_TOKEN": TOKEN}


def leaks(output: str) -> list[str]:
    """The token, or any piece of it of FRAGMENT characters, found in `output`."""
    pieces = {TOKEN[i : i + FRAGMENT] for i in range(len(TOKEN) - FRAGMENT + 1)}
    return sorted(p for p in pieces if p in output)


# --- 1. the access token never appears in any output -------------------------------------------

# Formulas that echo the token: in the source line, in a message quoting a string, in a fix.
PLANTED = {
    "echo.calc": f"amount + '{TOKEN}' * * 2\n",
    "quoted.calc": f"amount '{TOKEN}'\n",
    "fix.calc": f"if(amount > 1, '{TOKEN}', 'b')\n",
    "wrapper.calc": f"string('{TOKEN}')\n",  # CF114 quotes the string in its message
}


@pytest.mark.parametrize("output", ["text", "json", "github", "sarif"])
def test_check_never_prints_the_token(tmp_path: Path, output: str) -> None:
    for name, text in PLANTED.items():
        (tmp_path / name).write_text(text)
    result = run("check", "--format", output, *PLANTED, cwd=tmp_path, env=with_token())
    assert result.returncode == 1, result.stderr
    for code in ("CF101", "CF107", "CF114"):  # the diagnostics are there
        assert code in result.stdout
    assert leaks(result.stdout + result.stderr) == []


def test_without_the_variable_nothing_is_masked(tmp_path: Path) -> None:
    (tmp_path / "echo.calc").write_text(PLANTED["echo.calc"])
    env = {k: v for k, v in os.environ.items() if k != "HUBSPOT_ACCESS_TOKEN"}
    result = run("check", "echo.calc", cwd=tmp_path, env=env)
    assert TOKEN in result.stdout  # the test above is not passing by accident


def test_values_sql_and_formatted_text_never_print_the_token(tmp_path: Path) -> None:
    # Not only diagnostics: a value, a SQL literal or a formatted formula holding the token is
    # masked too (the command's standard streams redact whatever is written to them).
    records = tmp_path / "records.csv"
    records.write_text(f"id,note\n1,{TOKEN}\n")
    commands = [
        ("eval", "--expr", "string(note)", "--records", str(records), "--format", "csv"),
        ("eval", "--expr", f"'{TOKEN}'", "--format", "json"),
        ("sql", "--expr", f"string(a) + '{TOKEN}'"),
    ]
    for args in commands:
        plain = run(*args, cwd=tmp_path)
        assert TOKEN in plain.stdout, (args, plain.stderr)  # the planted token is printed
        masked = run(*args, cwd=tmp_path, env=with_token())
        assert masked.returncode == plain.returncode, masked.stderr
        assert leaks(masked.stdout + masked.stderr) == [], args
    formatted = subprocess.run(
        [*CALCFORMULA, "fmt", "-"],
        input=f"string(a)+'{TOKEN}'",
        capture_output=True,
        text=True,
        env=with_token(),
        timeout=60,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stderr
    assert "string(a) + '" in formatted.stdout and leaks(formatted.stdout) == []


def test_short_values_are_not_treated_as_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "abc")
    assert redact("abc + abc") == "abc + abc"
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    assert redact(f"x{TOKEN}y") == "x" + "*" * len(TOKEN) + "y"
    assert redact(f"'{TOKEN[:20]}…'").count("*") == 20  # a quoted prefix is masked too


def test_the_language_server_never_sends_the_token(tmp_path: Path) -> None:
    path = tmp_path / "planted.calc"
    text = f"if(amount > 1, '{TOKEN}', 'b') + amount '{TOKEN}'"
    path.write_text(text)
    uri = path.as_uri()

    async def scenario() -> str:
        client = make_test_lsp_client()
        await client.start_io(*CALCFORMULA, "lsp", env=with_token())
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=tmp_path.as_uri(),
            )
        )
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="calcformula", version=1, text=text
                )
            )
        )
        await asyncio.wait_for(client.wait_for_notification("textDocument/publishDiagnostics"), 60)
        document = types.TextDocumentIdentifier(uri=uri)
        inside = types.Position(line=0, character=text.index(TOKEN) + 3)
        hover = await client.text_document_hover_async(
            types.HoverParams(text_document=document, position=inside)
        )
        whole = types.Range(
            start=types.Position(line=0, character=0),
            end=types.Position(line=0, character=len(text)),
        )
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=document,
                range=whole,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        diagnostics = client.diagnostics[uri]
        await client.shutdown_session()
        await client.stop()  # type: ignore[no-untyped-call]
        assert hover is not None and diagnostics and actions
        # Quick-fix edits rewrite the user's own document and keep its text; what is shown
        # (messages, notes, hover, titles) must not carry the token.
        shown: list[Any] = [
            hover.contents,
            [(d.message, d.related_information) for d in diagnostics],
        ]
        shown += [(a.title, a.diagnostics) for a in actions if isinstance(a, types.CodeAction)]
        return repr(shown)

    shown = asyncio.run(scenario())
    assert "CF107" in shown or "if(condition" in shown
    assert leaks(shown) == []


# --- 2. limits: formula size, bounded excerpts, memory, the editor's big documents ------------


def test_formula_over_the_limit_is_refused_with_a_diagnostic() -> None:
    result = parse("a + " * (MAX_FORMULA // 4) + "a")
    assert [d.code for d in result.diagnostics] == ["CF003"]
    assert f"{MAX_FORMULA:,}" in result.diagnostics[0].message
    assert [d.code for d in parse(b"1" * (MAX_FORMULA + 1)).diagnostics] == ["CF003"]


def test_a_long_line_is_echoed_as_a_bounded_excerpt(tmp_path: Path) -> None:
    (tmp_path / "long.calc").write_text("a + " * 50_000 + "* b\n")
    result = run("check", "long.calc", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "CF101" in lines[0]
    assert max(len(line) for line in lines) < EXCERPT + 40
    source, carets = lines[1], lines[2]
    assert source.split("| ", 1)[1].startswith("…")
    # The caret still points at the `*`.
    assert source[carets.index("^")] == "*"


def test_excerpt_keeps_the_range_in_the_window() -> None:
    line = "x" * 1000 + "HERE" + "y" * 1000
    shown, column, width = excerpt(line, 1001, 4)
    assert len(shown) <= EXCERPT + 2 and shown.startswith("…") and shown.endswith("…")
    assert shown[column - 1 : column - 1 + width] == "HERE"


def test_checking_a_10_mb_file_stays_small(tmp_path: Path) -> None:
    (tmp_path / "huge.calc").write_text("amount + " * 1_200_000 + "1")
    assert (tmp_path / "huge.calc").stat().st_size > 10_000_000
    # A wrapper process measures its child's peak RSS alone (RUSAGE_CHILDREN of pytest
    # would include every other child it ever waited for).
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'calcformula', 'check', 'huge.calc'],"
        " capture_output=True, text=True)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(done.stdout)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    first, *rest = done.stdout.splitlines()
    code, peak_kb = (int(part) for part in first.split())
    assert code == 1 and "CF003" in "\n".join(rest)
    assert peak_kb < 300_000, f"peak RSS {peak_kb} KB"


def test_the_language_server_degrades_on_a_20_mb_document(tmp_path: Path) -> None:
    uri = (tmp_path / "big.calc").as_uri()
    text = "amount + " * 2_300_000 + "1"

    async def scenario() -> tuple[list[types.Diagnostic], types.Hover | None]:
        client = make_test_lsp_client()
        await client.start_io(*CALCFORMULA, "lsp")
        await client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
        )
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="calcformula", version=1, text=text
                )
            )
        )
        await asyncio.wait_for(client.wait_for_notification("textDocument/publishDiagnostics"), 90)
        hover = await asyncio.wait_for(
            client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=0, character=2),
                )
            ),
            60,
        )
        diagnostics = list(client.diagnostics[uri])
        await client.shutdown_session()
        await client.stop()  # type: ignore[no-untyped-call]
        return diagnostics, hover

    diagnostics, hover = asyncio.run(scenario())
    assert len(text) > 20_000_000
    assert [d.code for d in diagnostics] == ["CF003"]
    assert hover is None  # no analysis, but an answer


# --- 3. error recovery is linear; pathological shapes never reach a RecursionError -------------


def test_100k_unclosed_parentheses_recover_at_once() -> None:
    text = "(" * 100_000 + "amount"
    started = time.monotonic()
    result = check(text)
    elapsed = time.monotonic() - started
    assert [d.code for d in result.diagnostics] == ["CF104"]
    assert result.diagnostics[0].span.start == 99_999  # the innermost `(`
    assert dump(result.parse.tree) == "amount"  # the tree is kept, not replaced by Missing
    assert elapsed < 20, f"{elapsed:.1f} s (a hang guard; about a second when idle)"


@pytest.mark.parametrize(
    ("text", "tree"),
    [("((a", "a"), ("(if a", "(if-endif a ?)"), ("(a + (b", "(+ a b)"), ("f(a,", "(call f a ?)")],
)
def test_recovery_at_the_end_completes_the_formula(text: str, tree: str) -> None:
    assert dump(parse(text).tree) == tree


SHAPES: dict[str, Callable[[int], str]] = {
    "minus": lambda n: "-" * n + "amount",
    "not": lambda n: "not " * n + "true",
    "if-then": lambda n: "if a then " * n + "b",
    "if-else": lambda n: "if a > 1 then 1 else " * n + "2",
    "sum": lambda n: "+".join(["amount"] * n),
    "and": lambda n: " and ".join(["a > 1"] * n),
    "nested": lambda n: "(" * n + "amount" + ")" * n,
    "calls": lambda n: "abs(" * n + "amount" + ")" * n,
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_pathological_shapes_in_the_library(shape: str) -> None:
    text = SHAPES[shape](10_000)
    result = check(text)
    codes = {d.code for d in result.diagnostics}
    if result.ok:
        assert shape in ("sum", "and", "nested")
    else:
        assert codes & {"CF101", "CF104", "CF115", "CF304"}, codes
    if shape in ("minus", "not", "calls", "if-else"):
        assert "CF115" in codes and str(MAX_DEPTH) in str(result.diagnostics)
    evaluate(text, {"amount": "1", "a": "2", "b": "3"})  # returns, never raises
    sql = compile_sql(result, "duckdb")
    if shape == "nested":
        assert sql.ok  # parentheses add no depth: it is `amount`
    else:
        assert {d.code for d in sql.diagnostics} & {"CF701", "CF702", "CF115", "CF104", "CF101"}


@pytest.mark.parametrize("shape", ["minus", "not", "if-then", "sum", "and", "calls"])
def test_pathological_shapes_through_every_command(tmp_path: Path, shape: str) -> None:
    (tmp_path / "f.calc").write_text(SHAPES[shape](5_000))
    for command in (["check"], ["fmt", "--check"], ["sql"], ["eval", "--record", "{}"]):
        result = run(*command, "f.calc", cwd=tmp_path)
        assert result.returncode in (0, 1), (command, result.stderr[-500:])
        assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
        assert "internal error" not in result.stderr, (command, result.stderr[-300:])


def test_long_sums_get_sql_up_to_the_depth_limit() -> None:
    assert compile_sql(check("+".join(["1"] * 100)), "duckdb").ok
    refused = compile_sql(check("+".join(["1"] * 300)), "postgres")
    assert [d.code for d in refused.diagnostics] == ["CF701"]
    assert "levels deep" in refused.diagnostics[0].message


# --- 4. regex_matches cannot hang -------------------------------------------------------------


def test_catastrophic_pattern_answers_at_once(tmp_path: Path) -> None:
    record = json.dumps({"code": "a" * 40 + "!"})
    result = run(
        "eval",
        "--expr",
        "regex_matches(string(code), '(a|a)*')",
        "--record",
        record,
        "--format",
        "json",
        timeout=30,  # a hang guard: the backtracking engine took hours
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["value"] is False


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(a)\\\\1", "back-references"),
        ("(?=a)a", "lookaround"),
        ("(?>a)", "atomic"),
        ("a*+", "bad repetition"),
        ("[a-z&&[^b]]", "intersection"),
        ("[[:alpha:]]", "class inside a class"),
    ],
)
def test_patterns_re2_cannot_run_are_reported_by_the_checker(pattern: str, words: str) -> None:
    result = check(f"regex_matches(string(code), '{pattern}')")
    found = [d for d in result.diagnostics if d.code == "CF504"]
    assert found and words in found[0].message


def test_a_pattern_from_a_property_is_refused_at_evaluation() -> None:
    result = evaluate("regex_matches(string(a), string(b))", {"a": "aa", "b": "(a)\\1"})
    assert result.value is None
    assert [d.code for d in result.diagnostics] == ["CF504"]
    ok = evaluate("regex_matches(string(a), string(b))", {"a": "AB-12", "b": "[A-Z]+-\\d+"})
    assert ok.value is True


# --- 5. the language server survives a broken protocol ------------------------------------------


def frame(message: dict[str, Any], length: int | None = None) -> bytes:
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode() + body


class Stdio:
    """The server over raw stdio bytes, to send what no typed client would."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [*CALCFORMULA, "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.pending = b""

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def messages_until(self, done: Any, timeout: float = 60) -> list[dict[str, Any]]:
        """Messages read until `done(message)` is true for one of them."""
        assert self.process.stdout is not None
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\r\n\r\n" in self.pending:
                header, rest = self.pending.split(b"\r\n\r\n", 1)
                length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    break
                message = json.loads(rest[:length])
                self.pending = rest[length:]
                found.append(message)
                if done(message):
                    return found
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                self.pending += chunk
        raise AssertionError(f"no such message; got {found}")

    def initialize(self, process_id: int | None = None) -> None:
        params: dict[str, Any] = {"processId": process_id, "rootUri": None, "capabilities": {}}
        self.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}))
        self.messages_until(lambda m: m.get("id") == 1)
        self.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def stdio() -> Iterator[Stdio]:
    server = Stdio()
    yield server
    server.close()


OPEN = {
    "jsonrpc": "2.0",
    "method": "textDocument/didOpen",
    "params": {
        "textDocument": {
            "uri": "file:///tmp/attack.calc",
            "languageId": "calcformula",
            "version": 1,
            "text": "max(1, 2)",
        }
    },
}


def hover(ident: int, line: int = 0, character: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": ident,
        "method": "textDocument/hover",
        "params": {
            "textDocument": {"uri": "file:///tmp/attack.calc"},
            "position": {"line": line, "character": character},
        },
    }


@pytest.mark.parametrize(
    ("bogus", "words"),
    [
        (b"Content-Length: -5\r\n\r\n{}", "not a number"),
        (b"Content-Length: twelve\r\n\r\n{}", "not a number"),
        (b"Content-Length: 99999999999999999999999\r\n\r\n{}", "over the limit"),
        (b"Content-Type: text/plain\r\n\r\n{}", "no Content-Length"),
        (frame({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}, 2000), "ended after"),
        (frame({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}, 5), "not JSON"),
    ],
)
def test_bogus_content_length_gets_an_error_and_the_server_goes_on(
    stdio: Stdio, bogus: bytes, words: str
) -> None:
    stdio.initialize()
    stdio.write(frame(OPEN) + bogus + frame(hover(2)))
    messages = stdio.messages_until(lambda m: m.get("id") == 2 and "method" not in m)
    errors = [m["error"] for m in messages if "error" in m and m.get("id") is None]
    assert errors and errors[0]["code"] == -32700 and words in errors[0]["message"], messages
    assert "max(" in json.dumps(messages[-1]["result"])  # the next request is answered
    assert stdio.process.poll() is None


@pytest.mark.parametrize(
    ("line", "character"), [(-1, 0), (0, -7), (2**31, 0), (0, 2**40), (10**6, 10**6)]
)
def test_positions_out_of_range_get_an_answer(stdio: Stdio, line: int, character: int) -> None:
    stdio.initialize()
    stdio.write(frame(OPEN) + frame(hover(3, line, character)) + frame(hover(4)))
    messages = stdio.messages_until(lambda m: m.get("id") == 4 and "method" not in m)
    answer = next(m for m in messages if m.get("id") == 3)
    in_range = 0 <= line < 2**31 and 0 <= character < 2**31
    if in_range:
        assert "result" in answer  # clamped to the end of the document
    else:
        assert answer["error"]["code"] == -32602 and "range" in answer["error"]["message"]
    assert "max(" in json.dumps(messages[-1]["result"])


def test_a_dead_client_ends_the_server() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    server = Stdio()
    try:
        server.initialize(process_id=gone.pid)
        # stdin stays open: only the poll of the client's process can end the server.
        assert server.process.wait(timeout=60) == 0
    finally:
        server.close()


def test_a_live_client_keeps_the_server() -> None:
    server = Stdio()
    try:
        server.initialize(process_id=os.getpid())
        time.sleep(8)  # past two polls
        assert server.process.poll() is None
    finally:
        server.close()


# --- 6. PostgreSQL string literals whatever standard_conforming_strings says -------------------

LITERALS = ["back\\slash", "it's", "both \\' and '\\", "line\nbreak", "é 🙂 中", "\\\\", "tab\t"]


def _formula_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    psycopg = pytest.importorskip("psycopg")
    from tests.postgres_server import running

    with running() as dsn, psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


@pytest.mark.parametrize("conforming", ["on", "off"])
def test_postgres_string_literals_under_both_settings(postgres: Any, conforming: str) -> None:
    postgres.execute(f"SET standard_conforming_strings = {conforming}")
    postgres.execute("SET escape_string_warning = off")
    for value in LITERALS:
        formula = _formula_literal(value) + " + 'x'"
        assert evaluate(formula, {}).value == value + "x"
        sql = compile_sql(check(formula), "postgres")
        assert sql.ok
        row = postgres.execute(f"SELECT {sql.sql()}").fetchone()
        assert row is not None and row[0] == value + "x", (conforming, value, sql.sql())


def test_a_nul_in_a_literal_has_no_postgres_sql() -> None:
    result = compile_sql(check("concatenate('a\x00b', string(c))"), "postgres")
    assert [d.code for d in result.diagnostics] == ["CF701"]
    assert "U+0000" in result.diagnostics[0].message
    assert compile_sql(check("concatenate('a\x00b', string(c))"), "duckdb").ok


# --- 7. Hypothesis: any file content gives exit code 0, 1 or 2 and a message -------------------

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PIECES = st.sampled_from(
    [
        "amount",
        " + ",
        "(",
        ")",
        "'",
        "if ",
        " then ",
        "\x00",
        "\xff",
        "é",
        ":",
        "\n",
        "- ",
        "{",
        "}",
        "[",
        "]",
        '"',
        ",",
        "properties:",
        "formula: ",
        "name",
        "type",
        "123",
        "null",
        "true",
        "&",
        "*",
        "  ",
    ]
)
CONTENT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.lists(PIECES, max_size=40).map(lambda parts: "".join(parts).encode("utf-8", "replace")),
)


def _clean_exit(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode in (0, 1, 2), result.stderr[-800:]
    assert "Traceback" not in result.stderr, result.stderr[-800:]
    assert "internal error" not in result.stderr, result.stderr[-800:]
    if result.returncode == 2:
        assert result.stderr.strip()  # a message says what is wrong


@FUZZ
@given(CONTENT, st.sampled_from(["check", "fmt", "sql", "eval"]))
def test_any_calc_file(tmp_path: Path, content: bytes, command: str) -> None:
    (tmp_path / "f.calc").write_bytes(content)
    args = {
        "check": ["check", "f.calc"],
        "fmt": ["fmt", "--check", "f.calc"],
        "sql": ["sql", "f.calc"],
        "eval": ["eval", "f.calc", "--record", "{}"],
    }[command]
    _clean_exit(run(*args, cwd=tmp_path))


@FUZZ
@given(CONTENT, st.sampled_from(["check", "sql", "eval"]))
def test_any_manifest(tmp_path: Path, content: bytes, command: str) -> None:
    (tmp_path / "calcformula.yaml").write_bytes(content)
    args = {
        "check": ["check", "calcformula.yaml"],
        "sql": ["sql", "calcformula.yaml"],
        "eval": ["eval", "calcformula.yaml", "--record", "{}"],
    }[command]
    _clean_exit(run(*args, cwd=tmp_path))


@FUZZ
@given(CONTENT, st.sampled_from(["check", "eval"]))
def test_any_schema(tmp_path: Path, content: bytes, command: str) -> None:
    (tmp_path / "deals.json").write_bytes(content)
    formula = "amount * 2 + number(string(dealname))"
    if command == "check":
        args = ["check", "--expr", formula, "--schema", "deals.json", "--object", "deals"]
    else:
        args = ["eval", "--expr", formula, "--schema", "deals.json", "--record", "{}"]
    _clean_exit(run(*args, cwd=tmp_path))


@FUZZ
@given(CONTENT)
def test_any_portal_context(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "portal.json").write_bytes(content)
    formula = "pipeline_probability(string(dealstage)) * amount"
    args = ["eval", "--expr", formula, "--portal", "portal.json", "--record", "{}"]
    _clean_exit(run(*args, cwd=tmp_path))


@pytest.mark.parametrize("wrong", [None, 5, ["a"], {"formula": "a"}])
def test_a_formula_that_is_not_text_is_a_type_error_that_says_so(wrong: Any) -> None:
    # A programming error, not a formula: one clear TypeError at the door of every entry point.
    import calcformula.duckdb

    for entry in (parse, check, calcformula.duckdb.expression):
        with pytest.raises(TypeError, match="a formula is text"):
            entry(wrong)
