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
