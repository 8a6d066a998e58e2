"""The commands agree with each other: help texts, listings, tables, file names, colour.

Everything runs the installed command as a subprocess; colour on a terminal runs it on a
pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import click
import pytest

from calcformula.cli import main
from calcformula.codes import CODES

ROOT = Path(__file__).parent.parent
MISTAKE = ROOT / "docs" / "mistakes" / "ui_editor_if.calc"
ESCAPE = "\x1b["


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(extra)
    return env


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calcformula", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(**(env or {})),
        timeout=120,
    )


# --- help, explain, functions -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "fmt"])
def test_help_says_no_path_means_the_current_folder(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "With no PATH, the current folder." in " ".join(result.stdout.split())


def test_fmt_with_no_path_formats_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "a.calc").write_text("a+1\n")
    result = run("fmt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.calc").read_text() == "a + 1\n"


def _columns(separator: str) -> list[tuple[int, int]]:
    """(start, end) of each column, from the dashes under the headings."""
    return [(m.start(), m.end()) for m in re.finditer(r"-+", separator)]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def assert_table(output: str, headings: list[str]) -> list[list[str]]:
    """The output is a table with these headings, one dash run under each, every cell starting
    at its column; returns the rows' cells."""
    lines = output.rstrip("\n").split("\n")
    header, separator, *rows = lines
    columns = _columns(separator)
    assert len(columns) == len(headings), (separator, headings)  # every column has a heading
    for (start, end), heading in zip(columns, headings, strict=True):
        assert header[start:].startswith(heading), (header, heading)
        assert end - start >= len(heading)
    cells: list[list[str]] = []
    for row in rows:
        # Display columns, not characters: a wide character takes two.
        display = "".join(c + ("\0" if _width(c) == 2 else "") for c in row)
        display = display.ljust(columns[-1][0])  # an empty last cell is stripped
        found = []
        for index, (start, _end) in enumerate(columns):
            assert start == 0 or display[start - 2 : start] == "  ", (row, start)
            stop = columns[index + 1][0] if index + 1 < len(columns) else len(display)
            found.append(display[start:stop].replace("\0", "").strip())
            if index + 1 < len(columns):
                assert display[stop - 2 : stop] == "  ", (row, stop)
        cells.append(found)
    return cells


def test_explain_without_a_code_lists_every_code() -> None:
    result = run("explain")
    assert result.returncode == 0, result.stderr
    rows = assert_table(result.stdout, ["code", "severity", "name", "title"])
    assert [row[0] for row in rows] == list(CODES)
    for row in rows:
        code = CODES[row[0]]
        assert row[1:3] == [code.severity.value, code.name]
        assert row[3] and code.summary.startswith(row[3])


def test_explain_unknown_code_suggests() -> None:
    result = run("explain", "CF1O7")
    assert result.returncode == 2
    assert re.search(r"unknown code CF1O7; did you mean [^?]*CF107", result.stderr)


def test_explain_by_name() -> None:
    by_name = run("explain", "function-form-if")
    assert by_name.returncode == 0
    assert by_name.stdout == run("explain", "cf107").stdout


def test_functions_listing_is_a_table() -> None:
    result = run("functions")
    assert result.returncode == 0
    rows = assert_table(result.stdout, ["family", "signature", "evidence"])
    assert len(rows) == 54
    assert any(row[0] == "math" and row[1].startswith("round_down(") for row in rows)
    assert {row[2] for row in rows} == {"documented", "used by HubSpot", "inferred", "unknown"}


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("lenght", "string_length"), ("ifnul", "coalesce"), ("LEN", "string_length")],
)
def test_functions_unknown_name_suggests(typed: str, meant: str) -> None:
    result = run("functions", typed)
    assert result.returncode == 2
    assert f"unknown function {typed}; did you mean {meant}" in result.stderr


def test_functions_unknown_name_without_a_close_one() -> None:
    result = run("functions", "zzzz")
    assert result.returncode == 2
    assert "did you mean" not in result.stderr
    assert "`calcformula functions` lists them all" in result.stderr


# --- the eval table -------------------------------------------------------------------------


def test_eval_table(tmp_path: Path) -> None:
    records = tmp_path / "records.ndjson"
    records.write_text(
        '{"id": "記録-1", "properties": {"amount": "3", "name": "日本語のテキスト"}}\n'
        '{"id": "2", "properties": {"amount": "0", "name": "ok"}}\n'
        '{"id": "300", "properties": {"amount": "1", "name": "a long name ' + "x" * 60 + '"}}\n'
    )
    result = run(
        "eval",
        "--expr",
        "if 6 / amount > 1 then string(name) else 'small'",
        "--records",
        str(records),
    )
    assert result.returncode == 0, result.stderr
    rows = assert_table(result.stdout, ["id", "value", "notes"])
    assert [row[0] for row in rows] == ["記録-1", "2", "300"]
    assert rows[0][1:] == ["日本語のテキスト", ""]
    assert rows[1][1] == "(blank)" and "CF508" in rows[1][2]
    assert rows[2][1].endswith("…") and len(rows[2][1]) == 40


# --- --expr and file names --------------------------------------------------------------------


def test_expr_is_not_counted_as_a_file() -> None:
    text = run("check", "--expr", "1 +")
    assert text.returncode == 1
    assert "file" not in text.stderr.splitlines()[-1]
    assert text.stderr.splitlines()[-1].startswith("--expr checked: 1 error(s)")
    data = json.loads(run("check", "--format", "json", "--expr", "1 +").stdout)
    assert data["summary"]["files"] == 0 and data["summary"]["errors"] == 1
    stdin = run("check", "-", stdin="1 +")
    assert "1 file(s) checked" in stdin.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "where"),
    [
        (["check", "--expr", "1 +"], None, "<expr>:1:4:"),
        (["check", "-"], "1 +", "<stdin>:1:4:"),
        (["eval", "--expr", "1 +"], None, "<expr>:1:4:"),
        (["sql", "--expr", "1 +"], None, "<expr>:1:4:"),
        (["sql", "--expr", "regex_matches(string(a), 'x')"], None, "<expr>:1:1:"),
    ],
)
def test_diagnostics_name_their_source(args: list[str], stdin: str | None, where: str) -> None:
    result = run(*args, stdin=stdin)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert where in output
    assert "value:" not in output


MANIFEST = """\
properties:
  - object: deals
    name: cf_broken
    label: Broken
    group: g
    type: number
    formula: amount +
  - object: deals
    name: cf_regex
    label: Regex
    group: g
    type: bool
    formula: regex_matches(string(a), "x")
  - object: deals
    name: cf_file
    label: File
    group: g
    type: bool
    formula_file: file.calc
"""


def test_manifest_formula_diagnostics_point_into_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "calcformula.yaml").write_text(MANIFEST)
    (tmp_path / "file.calc").write_text("\n regex_matches(string(b), 'y')\n")
    evaluated = run("eval", "calcformula.yaml", "--property", "cf_broken", cwd=tmp_path)
    assert evaluated.returncode == 1
    assert "calcformula.yaml:7:22: error[CF101]" in evaluated.stderr
    assert "calcformula.yaml: property cf_broken has errors" in evaluated.stderr
    translated = run("sql", "calcformula.yaml", "--property", "cf_regex", cwd=tmp_path)
    assert translated.returncode == 1
    assert "calcformula.yaml:13:14: error[CF701]" in translated.stderr
    in_file = run("sql", "calcformula.yaml", "--property", "cf_file", cwd=tmp_path)
    assert in_file.returncode == 1
    assert "file.calc:2:2: error[CF701]" in in_file.stderr


# --- colour -----------------------------------------------------------------------------------


ALWAYS, NEVER, AUTO = ["--color", "always"], ["--color", "never"], ["--color", "auto"]


@pytest.mark.parametrize(
    ("before", "after", "env", "coloured"),
    [
        ([], [], {}, False),  # a pipe
        (ALWAYS, [], {}, True),
        ([], ALWAYS, {}, True),  # after the command, the same
        (NEVER, [], {}, False),
        ([], [], {"FORCE_COLOR": "1"}, True),
        ([], [], {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        ([], [], {"NO_COLOR": "", "FORCE_COLOR": "1"}, True),  # empty is not set
        (ALWAYS, [], {"NO_COLOR": "1"}, True),  # the option beats the environment
        ([], ALWAYS, {"NO_COLOR": "1"}, True),
        (NEVER, [], {"FORCE_COLOR": "1"}, False),
        ([], NEVER, {"FORCE_COLOR": "1"}, False),
        (AUTO, [], {"FORCE_COLOR": "1"}, True),
        (NEVER, ALWAYS, {}, True),  # the command's own option is the nearer one
    ],
)
def test_colour_on_a_pipe(
    before: list[str], after: list[str], env: dict[str, str], coloured: bool
) -> None:
    result = run(*before, "check", *after, str(MISTAKE), env=env)
    assert result.returncode == 1
    assert (ESCAPE in result.stdout) is coloured
    assert "error[CF107]" in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)


def _every_command() -> list[str]:
    context = click.Context(main)
    names: list[str] = []
    for name in main.list_commands(context):
        command = main.get_command(context, name)
        if isinstance(command, click.Group):
            names.extend(f"{name} {sub}" for sub in command.list_commands(context))
        else:
            names.append(name)
    return names


def test_the_command_list_is_complete() -> None:
    assert {"check", "eval", "sql", "fmt", "explain", "plan", "schema pull"} <= set(
        _every_command()
    )


@pytest.mark.parametrize("command", _every_command())
def test_every_command_takes_color(command: str) -> None:
    result = run(*command.split(), "--help")
    assert result.returncode == 0
    assert "--color [auto|always|never]" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "--expr", "1 +"],
        ["sql", "--expr", "1 +"],
        ["explain", "CF107"],
    ],
)
def test_colour_is_the_same_for_every_command(args: list[str]) -> None:
    always = run("--color", "always", *args)
    never = run("--color", "never", *args, env={"FORCE_COLOR": "1"})
    assert ESCAPE in always.stdout + always.stderr
    assert ESCAPE not in never.stdout + never.stderr
    after = run(args[0], "--color", "always", *args[1:])
    assert ESCAPE in after.stdout + after.stderr


def _on_a_terminal(*args: str, **env: str) -> str:
    """Run with standard output on a pseudo-terminal; what it printed there."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "calcformula", *args],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.DEVNULL,
            env=_env(**env),
        )
        os.close(terminal)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 1
    finally:
        os.close(controller)
    return b"".join(chunks).decode()


def test_colour_auto_on_a_terminal() -> None:
    assert ESCAPE in _on_a_terminal("check", str(MISTAKE))
    assert ESCAPE in _on_a_terminal("--color", "auto", "check", str(MISTAKE))
    assert ESCAPE not in _on_a_terminal("check", str(MISTAKE), NO_COLOR="1")
    assert ESCAPE not in _on_a_terminal("--color", "never", "check", str(MISTAKE))
    assert ESCAPE in _on_a_terminal("--color", "always", "check", str(MISTAKE), NO_COLOR="1")
