"""calcformula.yaml: validation with positions, and formula positions mapped into the YAML."""

from __future__ import annotations

from pathlib import Path

from calcformula.manifest import load_manifest
from calcformula.project import check_manifest

ENTRY = """  - object: deals
    name: {name}
    label: L
    type: {type}
    group: g
{extra}"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "calcformula.yaml"
    path.write_text(body)
    return path


def codes_of(path: Path) -> list[tuple[str, int]]:
    manifest = load_manifest(path)
    return [(d.code, d.span.line) for d in manifest.diagnostics]


def test_a_valid_manifest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "properties:\n"
        + ENTRY.format(name="a_b", type="number", extra="    formula: amount * 2\n"),
    )
    manifest = load_manifest(path)
    assert manifest.ok and manifest.properties[0].formula == "amount * 2"


def test_duplicates(tmp_path: Path) -> None:
    entry = ENTRY.format(name="dup", type="number", extra="    formula: 1\n")
    assert ("CF606", 8) in codes_of(write(tmp_path, "properties:\n" + entry + entry))


def test_bad_names(tmp_path: Path) -> None:
    for name in ("1abc", "Abc", "a-b", "a" * 101):
        found = codes_of(
            write(
                tmp_path,
                "properties:\n" + ENTRY.format(name=name, type="number", extra="    formula: 1\n"),
            )
        )
        assert ("CF604", 3) in found, name


def test_type_and_field_type_pairs(tmp_path: Path) -> None:
    found = codes_of(
        write(
            tmp_path,
            "properties:\n"
            + ENTRY.format(
                name="x", type="number", extra="    formula: 1\n    field_type: select\n"
            ),
        )
    )
    assert ("CF605", 8) in found
    found = codes_of(
        write(
            tmp_path,
            "properties:\n" + ENTRY.format(name="x", type="date", extra="    formula: 1\n"),
        )
    )
    assert ("CF605", 5) in found


def test_enumeration_needs_options_and_others_must_not_have_them(tmp_path: Path) -> None:
    found = codes_of(
        write(
            tmp_path,
            "properties:\n"
            + ENTRY.format(name="x", type="enumeration", extra="    formula: \"'a'\"\n"),
        )
    )
    assert ("CF603", 2) in found
    found = codes_of(
        write(
            tmp_path,
            "properties:\n"
            + ENTRY.format(name="x", type="number", extra="    formula: 1\n    options: [a]\n"),
        )
    )
    assert ("CF605", 8) in found


def test_options_as_values_or_objects(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "properties:\n"
        + ENTRY.format(
            name="x",
            type="enumeration",
            extra="    formula: \"'A'\"\n    options: [A, {value: B, label: Bee}]\n",
        ),
    )
    manifest = load_manifest(path)
    assert manifest.ok
    assert [(o.value, o.label) for o in manifest.properties[0].options] == [
        ("A", "A"),
        ("B", "Bee"),
    ]


def test_formula_file_missing(tmp_path: Path) -> None:
    found = codes_of(
        write(
            tmp_path,
            "properties:\n"
            + ENTRY.format(name="x", type="number", extra="    formula_file: nope.calc\n"),
        )
    )
    assert ("CF607", 7) in found


def test_top_level_unknown_key_and_missing_properties(tmp_path: Path) -> None:
    found = codes_of(write(tmp_path, "shcema: x\n"))
    assert ("CF602", 1) in found and ("CF603", 1) in found


def test_block_formula_positions_map_into_the_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "properties:\n"
        + ENTRY.format(
            name="x",
            type="number",
            extra="    formula: |\n      if a > 1 then\n        b + * 2\n      else 0\n",
        ),
    )
    [report] = check_manifest(path, "m.yaml")
    [diagnostic] = [d for d in report.diagnostics if d.code == "CF101"]
    assert (diagnostic.span.line, diagnostic.span.column) == (9, 13)
    assert report.text[diagnostic.span.start] == "*"


def test_inline_formula_positions_map_into_the_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "properties:\n"
        + ENTRY.format(name="x", type="number", extra='    formula: "amount + * 2"\n'),
    )
    [report] = check_manifest(path, "m.yaml")
    [diagnostic] = [d for d in report.diagnostics if d.code == "CF101"]
    assert report.text[diagnostic.span.start] == "*"


def test_notes_of_an_inline_formula_point_into_the_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "properties:\n"
        + ENTRY.format(name="x", type="number", extra="    formula: closedate - createdate\n"),
    )
    [report] = check_manifest(path, "m.yaml")
    [diagnostic] = [d for d in report.diagnostics if d.code == "CF401"]
    [note] = diagnostic.related
    assert report.text[note.span.start : note.span.end] == "createdate"
    assert note.span.line == diagnostic.span.line == 7


def test_managed_properties_can_read_each_other(tmp_path: Path) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "deals.json").write_text(
        '{"results": [{"name": "amount", "type": "number"}]}'
    )
    path = write(
        tmp_path,
        "schema: schema/\nproperties:\n"
        + ENTRY.format(name="base", type="number", extra="    formula: amount * 2\n")
        + ENTRY.format(name="derived", type="number", extra="    formula: base + 1\n"),
    )
    reports = check_manifest(path, "m.yaml")
    assert not any(d.is_error for r in reports for d in r.diagnostics)
