"""The generated documentation pages are current, and the docs' code examples work."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import calcformula
import calcformula.checker
import calcformula.parser
from calcformula.docgen import GENERATED


@pytest.mark.parametrize("path", sorted(GENERATED), ids=lambda p: p.name)
def test_generated_file_is_current(path: Path) -> None:
    committed = path.read_text(encoding="utf-8")
    assert committed == GENERATED[path](), f"run: python -m calcformula.docgen ({path} is stale)"


@pytest.mark.parametrize("module", [calcformula, calcformula.checker, calcformula.parser])
def test_docstring_examples(module: object) -> None:
    failures, _ = doctest.testmod(module, verbose=False)  # type: ignore[arg-type]
    assert failures == 0


def test_every_code_example_reports_its_code() -> None:
    from calcformula.checker import check
    from calcformula.codes import CODES

    for code in CODES.values():
        if code.example.strip() and code.code < "CF500":
            reported = {d.code for d in check(code.example).diagnostics}
            assert code.code in reported, (code.code, code.example, reported)


def test_readme_links_exist() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for link in ("docs/language.md", "docs/diagnostics.md", "docs/functions.md"):
        assert link in readme
        assert (Path(__file__).parent.parent / link).is_file()


def test_every_error_code_states_its_basis() -> None:
    """The severity principle: an error rests on HubSpot's documentation, a recorded field
    test (with its source) or reasoning, and docs/diagnostics.md says which."""
    import re

    from calcformula.codes import CODES, Basis
    from calcformula.diagnostics import Severity

    page = (Path(__file__).parent.parent / "docs" / "diagnostics.md").read_text()
    sections = dict(re.findall(r"^## (CF\d+)\n(.*?)(?=^## |\Z)", page, re.M | re.S))
    for code in CODES.values():
        if code.severity is not Severity.ERROR:
            continue
        assert code.basis is not None, f"{code.code} is an error without a basis"
        assert code.evidence.strip(), code.code
        if code.basis is Basis.FIELD_TESTED:
            assert code.source.strip(), f"{code.code} is field-tested without a source"
        basis = re.search(
            r"^\*Basis:\* (documented|field-tested|reasoned)(; source: .+)?$",
            sections[code.code],
            re.M,
        )
        assert basis is not None, f"docs/diagnostics.md: {code.code} has no *Basis:* line"
        if code.basis is Basis.FIELD_TESTED:
            assert basis.group(2) is not None, f"{code.code}: the field test's source is missing"
