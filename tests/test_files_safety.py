"""Files under hostile input (issue 12, "Secrets and files"): a manifest reads only files inside
its folder, `fmt`/`check --fix`/`pull` write atomically and only where they should, duplicate
keys and oversized YAML are diagnostics. Everything runs the real command as a subprocess."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calcformula.manifest import load_manifest, parse_manifest
from calcformula.safe_io import is_temp_name, write_atomic
from tests.hubspot_fake import FakeHubSpot

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
TOKEN = "pat-na1-PLANTED-SECRET-0f9e8d7c6b5a"
FORMATS = ("text", "json", "github", "sarif")


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calcformula", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


PROPERTY = """  - object: deals
    name: {name}
    label: L
    type: number
    group: g
    {formula}
"""


def manifest(folder: Path, *formulas: str) -> Path:
    body = "properties:\n" + "".join(
        PROPERTY.format(name=f"p{i}", formula=f) for i, f in enumerate(formulas)
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "calcformula.yaml"
    path.write_text(body)
    return path


# --- 1. a manifest names only files inside its folder ----------------------------------------


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "proc", "symlink", "schema"])
def test_a_manifest_never_reads_a_file_outside_its_folder(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside.txt"
    # A broken formula: if it were read, every format would echo it back.
    outside.write_text(f"{TOKEN} + * (\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.calc").symlink_to(outside)
    entry = {
        "dotdot": "formula_file: ../outside.txt",
        "absolute": f"formula_file: {outside}",
        "proc": "formula_file: /proc/self/environ",
        "symlink": "formula_file: link.calc",
        "schema": "formula: amount",
    }[kind]
    path = manifest(project, entry)
    if kind == "schema":
        path.write_text("schema: ../outside.txt\n" + path.read_text())
    value = entry.split(": ", 1)[1] if kind != "schema" else "../outside.txt"
    line = 1 if kind == "schema" else 7
    for output in FORMATS:
        result = run("check", "--format", output, str(path), env={"HUBSPOT_ACCESS_TOKEN": TOKEN})
        assert result.returncode == 1, result.stderr
        assert TOKEN not in result.stdout + result.stderr, output
        assert "CF620" in result.stdout, (output, result.stdout)
    found = [d for d in load_manifest(path).diagnostics if d.code == "CF620"]
    assert len(found) == 1 and found[0].span.line == line and value in found[0].message


def test_a_folder_search_skips_links_that_leave_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.calc"
    outside.write_text(f"{TOKEN} + * (\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "fine.calc").write_text("amount + 1\n")
    (project / "sneaky.calc").symlink_to(outside)
    result = run("check", "--format", "json", str(project))
    assert result.returncode == 0, result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert "skipped" in result.stderr and "sneaky.calc" in result.stderr
    before = outside.read_bytes()
    formatted = run("fmt", str(project))
    assert outside.read_bytes() == before, formatted.stderr


# --- 2. atomic writes ------------------------------------------------------------------------


def big_formula(terms: int) -> bytes:
    return ("+".join(f"(prop_{i}+{i})*2" for i in range(terms)) + "\n").encode()


def leftovers(folder: Path, keep: str) -> list[str]:
    return [name for name in os.listdir(folder) if name != keep]


def test_fmt_killed_at_any_moment_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    path = folder / "big.calc"
    old = big_formula(1500)
    path.write_bytes(old)
    started = time.monotonic()
    assert run("fmt", str(path)).returncode == 0
    duration = time.monotonic() - started
    new = path.read_bytes()
    assert new != old and leftovers(folder, "big.calc") == []
    rng = random.Random(12)
    budget = time.monotonic() + max(60.0, duration * 12)
    seen: dict[str, int] = {"old": 0, "new": 0}
    runs = 0
    while runs < 30 and time.monotonic() < budget:
        runs += 1
        path.write_bytes(old)
        original = os.stat(path)
        process = subprocess.Popen(
            [sys.executable, "-m", "calcformula", "fmt", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if runs % 2:
            # Kill the moment anything in the folder changes: a truncation of the file, a
            # temporary file, a rename. That is when a non-atomic write is half done.
            while process.poll() is None:
                now = os.stat(path)
                if (
                    now.st_size != original.st_size
                    or now.st_ino != original.st_ino
                    or leftovers(folder, "big.calc")
                ):
                    process.send_signal(signal.SIGKILL)
                    break
        else:
            time.sleep(rng.uniform(0, duration * 1.2))
            process.send_signal(signal.SIGKILL)
        process.wait()
        data = path.read_bytes()
        assert data in (old, new), f"run {runs}: a partial file of {len(data)} bytes"
        seen["old" if data == old else "new"] += 1
        for name in leftovers(folder, "big.calc"):
            # All a kill can leave: the temporary file of the write in flight.
            assert is_temp_name(name) and name.startswith(".big.calc."), name
            os.unlink(folder / name)
    assert runs >= 10, f"only {runs} runs in the time budget"


def test_temporary_files_a_kill_leaves_are_never_collected(tmp_path: Path) -> None:
    (tmp_path / "a.calc").write_text("amount + 1\n")
    (tmp_path / ".a.calc.calcformula-tmp-x1y2").write_text("amount + * (\n")
    (tmp_path / ".b.calcformula-tmp-z.calc").write_text("amount + * (\n")
    result = run("check", str(tmp_path))
    assert result.returncode == 0, result.stdout
    assert "1 file(s) checked" in result.stderr


def test_write_atomic_keeps_the_mode_and_follows_a_link(tmp_path: Path) -> None:
    target = tmp_path / "t.calc"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "l.calc"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path, "t.calc") == ["l.calc"]


# --- 3. fmt touches only formula files it can rewrite exactly ---------------------------------


def test_fmt_leaves_undecodable_files_alone(tmp_path: Path) -> None:
    bad = tmp_path / "bad.calc"
    bad.write_bytes(b"'caf\xe9' + string(x)\n")  # Latin-1: would become U+FFFD if rewritten
    result = run("fmt", str(tmp_path))
    assert result.returncode == 1
    assert "CF001" in result.stderr
    assert bad.read_bytes() == b"'caf\xe9' + string(x)\n"


def test_fmt_keeps_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "w.calc"
    path.write_bytes(b"\xef\xbb\xbfamount+1\r\n")
    assert run("fmt", str(path)).returncode == 0
    assert path.read_bytes() == b"\xef\xbb\xbfamount + 1\r\n"
    assert run("fmt", "--check", str(path)).returncode == 0


def test_fmt_reports_read_only_files_and_formats_the_others(tmp_path: Path) -> None:
    locked = tmp_path / "locked.calc"
    locked.write_text("amount+1\n")
    locked.chmod(0o444)
    sealed = tmp_path / "sealed"
    sealed.mkdir()
    (sealed / "inner.calc").write_text("amount+2\n")
    sealed.chmod(0o555)
    free = tmp_path / "free.calc"
    free.write_text("amount+3\n")
    try:
        result = run("fmt", str(tmp_path))
        assert result.returncode == 1, result.stderr
        assert f"cannot write {locked}" in result.stderr
        assert f"cannot write {sealed / 'inner.calc'}" in result.stderr
        assert locked.read_text() == "amount+1\n"
        assert (sealed / "inner.calc").read_text() == "amount+2\n"
        assert free.read_text() == "amount + 3\n"
        assert stat.S_IMODE(locked.stat().st_mode) == 0o444
    finally:
        sealed.chmod(0o755)


def test_fmt_rewrites_only_formula_files(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("a+1\n")
    outside = tmp_path / "outside.calc"
    outside.write_text("a+1\n")
    project = tmp_path / "project"
    manifest(project, "formula_file: ../outside.calc")
    result = run("fmt", str(notes), str(project))
    assert result.returncode == 1
    assert "not a .calc file" in result.stderr and "CF620" in result.stderr
    assert notes.read_text() == "a+1\n" and outside.read_text() == "a+1\n"


# --- 4. pull writes only inside its output folder ----------------------------------------------


@pytest.fixture
def hubspot() -> Iterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot()
    fake.add_object("deals", ["dealinformation"], [])
    server = fake.serve()
    url = next(server)
    yield fake, url
    next(server, None)


def hub_run(
    hub: tuple[FakeHubSpot, str], *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    fake, url = hub
    result = run(
        *args, cwd=cwd, env={"HUBSPOT_ACCESS_TOKEN": fake.token, "HUBSPOT_API_BASE_URL": url}
    )
    assert fake.token not in result.stdout + result.stderr
    return result


def calc_property(name: str, formula: str = "amount * 2") -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "number",
        "fieldType": "calculation_equation",
        "groupName": "dealinformation",
        "calculationFormula": formula,
    }


def test_pull_never_writes_outside_its_folder(
    hubspot: tuple[FakeHubSpot, str], tmp_path: Path
) -> None:
    fake, _ = hubspot
    absolute = str(tmp_path / "absolute_calc")
    for name in ("../../../escaped", absolute, "fine_one"):
        fake.properties["deals"][name] = {**calc_property(name), "hubspotDefined": False}
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = hub_run(hubspot, "pull", "deals", "--output", "out", cwd=work)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"../../../escaped"' in result.stderr and json.dumps(absolute) in result.stderr
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    new = [p for p in written if p not in before]
    assert all(str(p).startswith("work/out") for p in new), new
    assert (work / "out" / "formulas" / "deals" / "fine_one.calc").is_file()
    assert not Path(absolute + ".calc").exists()
    pulled = load_manifest(work / "out" / "calcformula.yaml")
    assert [p.name for p in pulled.properties] == ["fine_one"]


def test_pull_refuses_object_names_that_are_paths(
    hubspot: tuple[FakeHubSpot, str], tmp_path: Path
) -> None:
    fake, _ = hubspot
    for command in (["pull"], ["schema", "pull"]):
        result = hub_run(hubspot, *command, "../deals", "--output", "out", cwd=tmp_path)
        assert result.returncode == 2 and "not a HubSpot object name" in result.stderr
    assert fake.log == [] and list(tmp_path.iterdir()) == []


def test_manifest_object_names_are_checked_before_they_become_url_paths(
    hubspot: tuple[FakeHubSpot, str], tmp_path: Path
) -> None:
    fake, _ = hubspot
    path = manifest(tmp_path, "formula: amount")
    path.write_text(path.read_text().replace("object: deals", "object: deals/../contacts?x=1"))
    found = [(d.code, d.span.line, d.span.column) for d in load_manifest(path).diagnostics]
    assert ("CF604", 2, 13) in found
    result = hub_run(hubspot, "plan", cwd=tmp_path)
    assert result.returncode == 1 and "CF604" in result.stderr
    assert fake.log == []


# --- 5. duplicate keys --------------------------------------------------------------------------


def test_duplicate_keys_at_any_depth_name_both_positions(tmp_path: Path) -> None:
    path = tmp_path / "calcformula.yaml"
    path.write_text(
        "schema: schema/\n"
        "properties:\n"
        "  - object: deals\n"
        "    name: a\n"
        "    label: L\n"
        "    label: M\n"
        "    type: number\n"
        "    group: g\n"
        "    formula: amount\n"
        "    options: [{value: x, value: y}]\n"
        "schema: other/\n"
    )
    found = {
        (d.code, d.span.line, tuple(r.span.line for r in d.related))
        for d in load_manifest(path).diagnostics
        if d.code == "CF621"
    }
    assert found == {("CF621", 6, (5,)), ("CF621", 10, (10,)), ("CF621", 11, (1,))}


def test_a_duplicate_properties_key_never_lets_prune_archive_a_listed_property(
    hubspot: tuple[FakeHubSpot, str], tmp_path: Path
) -> None:
    fake, _ = hubspot
    entry = (
        "  - {{object: deals, name: {0}, label: {0}, type: number, group: dealinformation, "
        "formula: amount}}\n"
    )
    path = tmp_path / "calcformula.yaml"
    path.write_text("properties:\n" + entry.format("kept_a") + entry.format("kept_b"))
    fake.properties["deals"]["amount"] = {
        "name": "amount",
        "label": "Amount",
        "type": "number",
        "fieldType": "number",
        "groupName": "dealinformation",
        "hubspotDefined": True,
    }
    first = hub_run(hubspot, "push", "--yes", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    # A later edit adds a second `properties:` key: YAML keeps only the last list.
    path.write_text(
        "properties:\n" + entry.format("kept_a") + "properties:\n" + entry.format("kept_b")
    )
    writes = len(fake.writes)
    pruned = hub_run(hubspot, "push", "--prune", "--yes", cwd=tmp_path)
    assert pruned.returncode == 1, pruned.stdout
    assert "CF621" in pruned.stderr and "nothing was sent" in pruned.stderr
    assert "kept_a" in fake.properties["deals"] and fake.archived["deals"] == {}
    assert len(fake.writes) == writes


# --- 6. limits ----------------------------------------------------------------------------------


def test_deeply_nested_yaml_is_a_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "calcformula.yaml"
    path.write_text("properties: " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = run("check", "--format", "json", str(path))
    assert result.returncode == 1, result.stderr
    codes = [d["code"] for d in json.loads(result.stdout)["diagnostics"]]
    assert codes == ["CF622"]


def test_a_huge_manifest_is_a_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "calcformula.yaml"
    path.write_text("# " + "x" * 2_000_000 + "\nproperties: []\n")
    result = run("check", "--format", "json", str(path))
    assert result.returncode == 1, result.stderr
    diagnostics = json.loads(result.stdout)["diagnostics"]
    assert [d["code"] for d in diagnostics] == ["CF622"]


# --- issue 13: calculation_rollup ----------------------------------------------------------------


@pytest.mark.parametrize("key", ["type", "field_type"])
def test_calculation_rollup_is_an_error(tmp_path: Path, key: str) -> None:
    path = manifest(tmp_path, "formula: amount")
    text = path.read_text()
    if key == "type":
        text = text.replace("type: number", "type: calculation_rollup")
    else:
        text = text.replace("    group: g\n", "    group: g\n    field_type: calculation_rollup\n")
    path.write_text(text)
    found = [d for d in load_manifest(path).diagnostics if d.code == "CF623"]
    assert len(found) == 1 and "cannot be created through HubSpot's API" in found[0].message


# --- 8. manifest checking: every problem, cycles, unknown objects --------------------------------


def test_every_problem_of_an_entry_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "calcformula.yaml"
    path.write_text(
        "properties:\n"
        "  - object: deal\n"  # did-you-mean
        "    name: Bad-Name\n"  # CF604
        "    type: numbr\n"  # CF605
        "    field_type: calculation_rollup\n"  # CF623
        "    group: g\n"
        "    formula: amount +\n"  # CF101, and no label: CF603
    )
    result = run("check", "--format", "json", str(path))
    found = sorted(
        (d["code"], d["start"]["line"]) for d in json.loads(result.stdout)["diagnostics"]
    )
    assert found == [
        ("CF101", 7),
        ("CF603", 2),
        ("CF604", 3),
        ("CF605", 4),
        ("CF623", 5),
        ("CF625", 2),
    ]


def test_unknown_object_has_a_did_you_mean_and_custom_objects_pass(tmp_path: Path) -> None:
    path = manifest(tmp_path, "formula: amount", "formula: amount")
    text = path.read_text().replace("object: deals", "object: deal", 1)
    path.write_text(text.replace("object: deals", "object: p_vehicles", 1))
    found = [d for d in load_manifest(path).diagnostics]
    assert [(d.code, d.span.line) for d in found] == [("CF625", 2)]
    assert "did you mean `deals`" in found[0].message


def test_cycles_between_calculation_properties(tmp_path: Path) -> None:
    path = manifest(
        tmp_path,
        "formula: p1 + 1",
        "formula: p2 * 2",
        "formula: if is_present(p0) then p0 else 0",
        "formula: p2 + p0",  # reads the cycle without being part of it
        "formula: p4 - 1",  # reads itself
    )
    found = sorted(
        (d.span.line, d.message) for d in load_manifest(path).diagnostics if d.code == "CF624"
    )
    assert [m.split(": ", 1)[1] for _, m in found] == [
        "p0 → p1 → p2 → p0 (on deals)",
        "p4 → p4 (on deals)",
    ]


# --- 7. check --fix ------------------------------------------------------------------------------


def test_fix_applies_safe_fixes_in_place_and_exits_by_what_remains(tmp_path: Path) -> None:
    path = tmp_path / "a.calc"
    path.write_bytes(b"\xef\xbb\xbfif(amount == 1, 2, 3)\r\n")
    path.chmod(0o640)
    result = run("check", "--fix", str(path))
    # Overlapping fixes (the if(…) rewrite contains `==`): both applied, in two rounds.
    assert path.read_bytes() == b"\xef\xbb\xbfif amount = 1 then 2 else 3\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert f"fixed {path}:1: CF107" in result.stderr and f"fixed {path}:1: CF109" in result.stderr
    assert result.returncode == 0, result.stdout  # only a warning remains
    assert leftovers(tmp_path, "a.calc") == []


def test_unsafe_fixes_need_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "a.calc"
    path.write_text("if(amout > 1, 2, 3)\n")
    schema = tmp_path / "deals.json"
    schema.write_text(
        json.dumps({"results": [{"name": "amount", "type": "number", "fieldType": "number"}]})
    )
    safe = run("check", "--fix", "--schema", str(schema), str(path))
    assert path.read_text() == "if amout > 1 then 2 else 3\n"
    assert safe.returncode == 1 and "CF203" in safe.stdout  # the guess is not taken
    unsafe = run("check", "--fix", "--unsafe-fixes", "--schema", str(schema), str(path))
    assert path.read_text() == "if amount > 1 then 2 else 3\n", unsafe.stderr
    assert unsafe.returncode == 0, unsafe.stdout


def test_diff_shows_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.calc"
    path.write_text("amount == 1\n")
    result = run("check", "--diff", str(path))
    assert result.returncode == 1
    assert "-amount == 1\n+amount = 1\n" in result.stdout
    assert path.read_text() == "amount == 1\n"
    assert run("check", "--unsafe-fixes", str(path)).returncode == 2


MANIFEST = """\
# Kept byte for byte: comments, order, quoting.
properties:
  - object: deals   # trailing comment
    name: plain
    label: "Plain, quoted label"
    type: number
    group: g
    formula: if(amount == 1, 2, 3)   # comment after the formula
  - object: deals
    name: single
    label: S
    type: number
    group: g
    formula: 'amount <> 1'
  - object: deals
    name: block
    label: B
    type: number
    group: g
    formula: |
      if(amount > 1,
         2, 3)
  - object: deals
    name: escaped
    label: E
    type: number
    group: g
    formula: "if(amount > 1, \\"a\\", 'b')"
"""


def test_fix_in_a_manifest_edits_only_the_formulas(tmp_path: Path) -> None:
    path = tmp_path / "calcformula.yaml"
    path.write_text(MANIFEST)
    result = run("check", "--fix", str(path))
    expected = (
        MANIFEST.replace("if(amount == 1, 2, 3)", "if amount = 1 then 2 else 3")
        .replace("'amount <> 1'", "'amount != 1'")
        .replace("if(amount > 1,\n         2, 3)", "if amount > 1 then 2 else 3")
    )
    assert path.read_text() == expected
    # The double-quoted formula holds escapes: its fix is skipped, and said so.
    assert f"{path}:28: CF107 not fixed" in result.stderr
    assert "double-quoted" in result.stderr
    assert result.returncode == 1  # the CF107 that could not be fixed remains
    formulas = [p.formula for p in load_manifest(path).properties]
    assert formulas[:3] == [
        "if amount = 1 then 2 else 3",
        "amount != 1",
        "if amount > 1 then 2 else 3\n",
    ]


def test_fix_never_writes_a_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "a.calc"
    path.write_text("amount == 1\n")
    path.chmod(0o444)
    result = run("check", "--fix", str(path))
    assert result.returncode == 1 and "cannot write" in result.stderr
    assert path.read_text() == "amount == 1\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "project")
    return tmp_path / "project"


def test_fix_on_the_examples_changes_nothing(project: Path) -> None:
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    result = run("check", "--fix", ".", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


def test_fix_that_yaml_would_read_differently_is_skipped(tmp_path: Path) -> None:
    # Straightening the quotes would make the plain scalar start with `'`: YAML would read
    # a quoted string followed by garbage. The fix is checked by reloading, and skipped.
    path = manifest(tmp_path, "formula: ‘x’ + string(firstname)")
    before = path.read_bytes()
    result = run("check", "--fix", str(path))
    assert path.read_bytes() == before
    assert f"{path}:7: CF117 not fixed" in result.stderr and "plain scalar" in result.stderr
    assert result.returncode == 1


def test_pull_does_not_follow_a_link_out_of_its_folder(
    hubspot: tuple[FakeHubSpot, str], tmp_path: Path
) -> None:
    fake, _ = hubspot
    fake.properties["deals"]["fine_one"] = {**calc_property("fine_one"), "hubspotDefined": False}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "formulas").symlink_to(elsewhere)
    result = hub_run(hubspot, "pull", "deals", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 1 and "leads outside" in result.stderr
    assert list(elsewhere.rglob("*")) == []


YAML_PIECES = st.sampled_from(
    [
        "properties:",
        "\n",
        "  - ",
        "    ",
        "object: deals",
        "name: a",
        "formula: ",
        "formula_file: ",
        "../x.calc",
        "type: number",
        "field_type: calculation_rollup",
        "[",
        "]",
        "{",
        "}",
        ": ",
        ", ",
        "&a ",
        "*a",
        "<<: ",
        "!!python/object ",
        "'",
        '"',
        "|",
        "amount + 1",
        "if(a, 1, 2)",
        "\t",
        "\x00",
        "\ufeff",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(YAML_PIECES, max_size=40).map("".join))
def test_any_manifest_text_gives_diagnostics_never_an_exception(text: str) -> None:
    found = parse_manifest(Path("/nonexistent/calcformula.yaml"), text)
    assert all(d.code.startswith("CF") for d in found.diagnostics)
