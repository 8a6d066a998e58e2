"""The installed `calcformula` command, driven as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
MISTAKES = ROOT / "docs" / "mistakes"


def run(
    *args: str,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calcformula", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


# --- check -----------------------------------------------------------------------------------


def test_check_examples_exits_0() -> None:
    result = run("check", str(EXAMPLES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stderr


def test_check_with_no_path_checks_the_current_folder() -> None:
    result = run("check", cwd=EXAMPLES)
    assert result.returncode == 0, result.stderr
    assert "6 file(s) checked" in result.stderr


def test_check_mistakes_exits_1_with_carets() -> None:
    result = run("check", str(MISTAKES))
    assert result.returncode == 1
    assert "error[CF107]" in result.stdout
    assert "^~~~" in result.stdout
    assert "\033[" not in result.stdout  # no colour when not a terminal


def test_strict_turns_warnings_into_failures() -> None:
    assert run("check", "--expr", "a + b").returncode == 0
    assert run("check", "--strict", "--expr", "a + b").returncode == 1


def test_check_json_contract() -> None:
    result = run("check", "--expr", "a + * b", "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    [diagnostic] = data["diagnostics"]
    assert set(diagnostic) >= {"path", "code", "severity", "message", "start", "end", "fixes"}
    assert diagnostic["path"] == "<expr>"
    assert diagnostic["severity"] == "error"
    assert diagnostic["start"]["line"] == 1 and diagnostic["start"]["column"] == 5
    assert data["summary"]["errors"] == 1


def test_columns_count_characters() -> None:
    result = run("check", "--expr", "'🙂🙂' + * y", "--format", "json")
    assert json.loads(result.stdout)["diagnostics"][0]["start"]["column"] == 8


def test_github_format_escapes() -> None:
    result = run("check", "--expr", "a,b + 'x\\%'", "--format", "github")
    assert result.returncode == 1
    line = result.stdout.strip().splitlines()[0]
    assert line.startswith("::error file=<expr>,line=1,col=2,")
    assert "title=calcformula CF101" in line
    commas = run("check", "--expr", "ifnull(a, 0)", "--format", "github").stdout
    assert "::error " in commas and "%2C" not in commas.split("::")[2]


def test_github_message_newlines_are_escaped(tmp_path: Path) -> None:
    formula = tmp_path / "a%b,c.calc"
    formula.write_text("a +")
    result = run("check", str(formula), "--format", "github")
    assert "a%25b%2Cc.calc" in result.stdout


def test_sarif_is_2_1_0() -> None:
    result = run("check", str(MISTAKES), "--format", "sarif")
    assert result.returncode == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    [run_] = log["runs"]
    driver = run_["tool"]["driver"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    from calcformula.codes import CODES

    assert rule_ids == list(CODES)  # a rule for every code
    assert run_["results"]
    for item in run_["results"]:
        assert driver["rules"][item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["level"] in ("error", "warning", "note")
        assert item["message"]["text"]
        region = item["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert (region["endLine"], region["endColumn"]) >= (
            region["startLine"],
            region["startColumn"],
        )


def test_check_stdin() -> None:
    result = run("check", "-", stdin="if a then 1 else 2 endif")
    assert result.returncode == 1
    assert "CF106" in result.stdout


def test_check_with_schema_and_type(tmp_path: Path) -> None:
    schema = EXAMPLES / "schema"
    bad = run(
        "check",
        "--schema",
        str(schema),
        "--object",
        "deals",
        "--type",
        "number",
        "--expr",
        "amout * 2",
    )
    assert bad.returncode == 1 and "did you mean `amount`" in bad.stdout
    good = run(
        "check", "--schema", str(schema / "deals.json"), "--type", "number", "--expr", "amount * 2"
    )
    assert good.returncode == 0, good.stdout
    wrong_type = run("check", "--type", "bool", "--expr", "amount * 2")
    assert wrong_type.returncode == 1 and "CF308" in wrong_type.stdout


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


def test_manifest_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "calcformula.yaml"
    path.write_text("properties: [\n  - {name: x\n")
    result = run("check", str(path))
    assert result.returncode == 1
    assert "CF601" in result.stdout and "Traceback" not in result.stderr


def test_manifest_errors_point_into_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "calcformula.yaml").write_text(
        "properties:\n"
        "  - object: deals\n"
        "    name: Bad-Name\n"
        "    label: X\n"
        "    type: number\n"
        "    group: g\n"
        "    formla: 1\n"
        "  - object: deals\n"
        "    name: ok_one\n"
        "    label: Y\n"
        "    type: number\n"
        "    group: g\n"
        "    formula: amount + * 2\n"
    )
    result = run("check", str(tmp_path), "--format", "json")
    assert result.returncode == 1
    found = {(d["code"], d["start"]["line"]) for d in json.loads(result.stdout)["diagnostics"]}
    assert ("CF604", 3) in found  # the bad name, on its line
    assert ("CF602", 7) in found  # `formla`, with a did-you-mean
    assert ("CF101", 13) in found  # the formula's syntax error, mapped into the YAML


# --- eval ------------------------------------------------------------------------------------


def test_eval_expr_ndjson_exact_numbers() -> None:
    result = run("eval", "--expr", "a / 3", "--record", '{"a": "1"}', "--format", "ndjson")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line == ('{"id": "1", "value": 0.3333333333333333333333333333333333, "diagnostics": []}')


def test_eval_manifest_on_csv_with_labels() -> None:
    result = run(
        "eval",
        str(EXAMPLES / "calcformula.yaml"),
        "--object",
        "deals",
        "--records",
        str(EXAMPLES / "records" / "deals.csv"),
        "--format",
        "json",
        "--now",
        "2026-11-01T00:00:00Z",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["records"] == 300
    first = {item["property"]: item["value"] for item in data["results"] if item["id"] == "9000001"}
    # Created 2025-07-05, closed 35.x days later; weighted by probability 1 in a won stage.
    assert first["cf_days_to_close"] == 35
    assert first["cf_is_won_stage"] is True
    assert first["cf_size_band"] == "large"


def test_eval_ndjson_records_and_blank(tmp_path: Path) -> None:
    records = tmp_path / "r.ndjson"
    records.write_text(
        '{"id": "1", "properties": {"a": "2"}}\nnot json\n{"id": "3", "properties": {"a": ""}}\n'
    )
    result = run("eval", "--expr", "a * 2", "--records", str(records), "--format", "csv")
    assert result.returncode == 1  # one record could not be read
    assert result.stdout.splitlines() == ["id,value", "1,4", "3,"]
    assert "line 2: not JSON" in result.stderr
    assert "1 blank" in result.stderr


def test_eval_not_evaluable_is_said() -> None:
    result = run("eval", "--expr", "year(closedate)", "--record", '{"closedate": "2024-01-01"}')
    assert result.returncode == 0
    assert "(not evaluable)" in result.stdout and "CF507" in result.stdout


def test_eval_formula_with_errors_evaluates_nothing() -> None:
    result = run("eval", "--expr", "a +", "--record", "{}")
    assert result.returncode == 1
    assert "nothing was evaluated" in result.stderr


def test_eval_unreadable_record_file(tmp_path: Path) -> None:
    records = tmp_path / "r.json"
    records.write_text("{broken")
    result = run("eval", "--expr", "a", "--records", str(records))
    assert result.returncode == 1
    assert "not JSON" in result.stderr and "Traceback" not in result.stderr


def test_eval_output_file(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    result = run("eval", "--expr", "1 + 1", "--format", "ndjson", "--output", str(out))
    assert result.returncode == 0 and result.stdout == ""
    assert json.loads(out.read_text())["value"] == 2


def test_eval_50_mb_csv_streams(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    row = "x" * 500
    with path.open("w") as stream:
        stream.write("Record ID,amount,note\n")
        for number in range(100_000):
            stream.write(f"{number},{number % 97},{row}\n")
    assert path.stat().st_size > 50_000_000
    out = tmp_path / "out.csv"
    result = run(
        "eval",
        "--expr",
        "amount * 2",
        "--records",
        str(path),
        "--format",
        "csv",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "100000 record(s)" in result.stderr
    with out.open() as stream:
        assert sum(1 for _ in stream) == 100_001


def test_bad_now_is_a_usage_error() -> None:
    result = run("eval", "--expr", "NOW", "--now", "yesterday")
    assert result.returncode == 2 and "ISO 8601" in result.stderr


# --- fmt, explain, functions -----------------------------------------------------------------


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "f.calc"
    path.write_text("IF a>1 THEN 'x' ELSE \"y\"")
    assert run("fmt", "--check", str(path)).returncode == 1
    diff = run("fmt", "--diff", str(path))
    assert diff.returncode == 1 and "+if a > 1 then 'x' else 'y'" in diff.stdout
    assert run("fmt", str(path)).returncode == 0
    assert path.read_text() == "if a > 1 then 'x' else 'y'\n"
    assert run("fmt", "--check", str(path)).returncode == 0


def test_fmt_examples_are_formatted() -> None:
    assert run("fmt", "--check", str(EXAMPLES)).returncode == 0


def test_fmt_hubspot_style_stdin() -> None:
    result = run("fmt", "--style", "hubspot", "-", stdin='a = "x"')
    assert result.returncode == 0
    assert result.stdout == "a equals 'x'\n"


def test_fmt_refuses_broken_formula(tmp_path: Path) -> None:
    path = tmp_path / "broken.calc"
    path.write_text("a + ")
    result = run("fmt", str(path))
    assert result.returncode == 1
    assert path.read_text() == "a + "  # nothing lost


@pytest.mark.parametrize("code", ["CF106", "cf107", "CF201", "CF401"])
def test_explain(code: str) -> None:
    result = run("explain", code)
    assert result.returncode == 0
    assert code.upper() in result.stdout and "Evidence" in result.stdout


def test_explain_unknown_code() -> None:
    assert run("explain", "CF999").returncode == 2


def test_functions_list_and_one() -> None:
    listing = run("functions")
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 2 + 54  # headings
    one = run("functions", "round_down")
    assert one.returncode == 0 and "round_down(value: number, decimals: number)" in one.stdout


def test_pre_commit_hooks_use_real_commands() -> None:
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entries = {hook["id"]: hook["entry"] for hook in hooks}
    assert entries["calcformula-check"] == "calcformula check"
    assert entries["calcformula-fmt"] == "calcformula fmt --check"


def test_hubspot_commands_load_on_first_use() -> None:
    from calcformula.cli import HUBSPOT_COMMANDS
    from calcformula.hubspot.commands import COMMANDS

    assert sorted(c.name or "" for c in COMMANDS) == sorted(HUBSPOT_COMMANDS)
    listed = run("--help")
    assert all(name in listed.stdout for name in HUBSPOT_COMMANDS)
