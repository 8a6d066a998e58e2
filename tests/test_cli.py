"""The installed `calcformula` command, driven as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calcformula", *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_check_clean_examples_exits_0() -> None:
    result = run("check", str(ROOT / "examples" / "formulas"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stderr


def test_check_mistakes_exits_1_with_carets() -> None:
    result = run("check", str(ROOT / "examples" / "mistakes"))
    assert result.returncode == 1
    assert "error[CF107]" in result.stdout
    assert "^~~~" in result.stdout
    assert "\033[" not in result.stdout  # no colour when not a terminal


def test_check_json() -> None:
    result = run("check", "--expr", "a + * b", "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    [diagnostic] = data["diagnostics"]
    assert diagnostic["code"] == "CF101"
    assert diagnostic["path"] == "<expr>"
    assert diagnostic["start"] == {"line": 1, "column": 5, "offset": 4}
    assert data["summary"]["errors"] == 1


def test_check_stdin() -> None:
    result = run("check", "-", stdin=b"if a then 1 else 2 endif")
    assert result.returncode == 1
    assert "CF106" in result.stdout


def test_check_missing_file_is_a_usage_error() -> None:
    result = run("check", "does/not/exist.calc")
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_folder_without_formulas(tmp_path: Path) -> None:
    result = run("check", str(tmp_path))
    assert result.returncode == 2
    assert "no .calc files" in result.stderr


def test_check_binary_file_named_calc(tmp_path: Path) -> None:
    path = tmp_path / "binary.calc"
    path.write_bytes(bytes(range(256)) * 4)
    result = run("check", str(path))
    assert result.returncode == 1
    assert "CF001" in result.stdout
    assert "Traceback" not in result.stderr


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "f.calc"
    path.write_text("IF a>1 THEN 'x' ELSE \"y\"")
    assert run("fmt", "--check", str(path)).returncode == 1
    diff = run("fmt", "--diff", str(path))
    assert diff.returncode == 1 and "+if a > 1 then 'x' else 'y'" in diff.stdout
    assert run("fmt", str(path)).returncode == 0
    assert path.read_text() == "if a > 1 then 'x' else 'y'\n"
    assert run("fmt", "--check", str(path)).returncode == 0


def test_fmt_hubspot_style_stdin() -> None:
    result = run("fmt", "--style", "hubspot", "-", stdin=b'a = "x"')
    assert result.returncode == 0
    assert result.stdout == "a equals 'x'\n"


def test_fmt_refuses_broken_formula(tmp_path: Path) -> None:
    path = tmp_path / "broken.calc"
    path.write_text("a + ")
    result = run("fmt", str(path))
    assert result.returncode == 1
    assert path.read_text() == "a + "  # nothing lost


@pytest.mark.parametrize("code", ["CF106", "cf107", "CF201"])
def test_explain(code: str) -> None:
    result = run("explain", code)
    assert result.returncode == 0
    assert code.upper() in result.stdout and "Evidence" in result.stdout


def test_explain_unknown_code() -> None:
    assert run("explain", "CF999").returncode == 2


def test_functions_list_and_one() -> None:
    listing = run("functions")
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 54
    one = run("functions", "round_down")
    assert one.returncode == 0 and "round_down(value: number, decimals: number)" in one.stdout
