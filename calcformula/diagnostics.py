"""The one Diagnostic type every part of calcformula reports problems with.

A diagnostic has a stable code (``CF101``), a severity, a message with fixed wording per code
(see `calcformula.codes`), the span it is about, optional related spans, and fixes: text
edits that resolve it. The CLI renders diagnostics as text, JSON, GitHub annotations and SARIF,
the language server as LSP diagnostics and quick fixes; none of them invent their own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from calcformula.span import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2, Severity.HINT: 3}


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Replace ``text[span.start:span.end]`` with `new_text`."""

    span: Span
    new_text: str


@dataclass(frozen=True, slots=True)
class Fix:
    """Edits that resolve a diagnostic. `safe` fixes keep the formula's meaning (or only make
    a formula HubSpot rejects read as written); unsafe ones are guesses or change values, and
    `check --fix` applies them only with `--unsafe-fixes` (as ruff does)."""

    title: str
    edits: tuple[TextEdit, ...]
    safe: bool = True


@dataclass(frozen=True, slots=True)
class Related:
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    fixes: tuple[Fix, ...] = ()
    related: tuple[Related, ...] = ()
    # Where the diagnostic comes from when it is not the formula text itself, e.g. the record
    # and property an evaluation problem belongs to.
    context: tuple[tuple[str, str], ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Source order, then severity, then code: the order every renderer shows."""
    return sorted(diagnostics, key=lambda d: (d.span.start, d.span.end, d.severity.rank, d.code))


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """Apply non-overlapping edits to text. Overlapping edits raise ValueError."""
    ordered = sorted(edits, key=lambda e: (e.span.start, e.span.end))
    pieces: list[str] = []
    position = 0
    for edit in ordered:
        if edit.span.start < position:
            raise ValueError("overlapping edits")
        pieces.append(text[position : edit.span.start])
        pieces.append(edit.new_text)
        position = edit.span.end
    pieces.append(text[position:])
    return "".join(pieces)


def apply_fixes(
    text: str, diagnostics: Sequence[Diagnostic], *, unsafe: bool = True
) -> tuple[str, int]:
    """Apply the first fix of each diagnostic, in order, skipping any that overlaps one
    already taken (run again after re-checking to take the rest). Returns the new text and
    how many fixes were applied. This is the one fix engine of the CLI and language server.
    With `unsafe=False` only fixes marked safe are taken.
    """
    chosen = select_fixes(diagnostics, unsafe=unsafe)
    return apply_edits(text, [e for _, fix in chosen for e in fix.edits]), len(chosen)


def select_fixes(
    diagnostics: Sequence[Diagnostic], *, unsafe: bool = True
) -> list[tuple[Diagnostic, Fix]]:
    """The fix apply_fixes takes for each diagnostic: its first fix allowed by `unsafe`,
    unless that overlaps a fix already taken."""
    taken: list[TextEdit] = []
    chosen: list[tuple[Diagnostic, Fix]] = []
    for diagnostic in diagnostics:
        fix = next((f for f in diagnostic.fixes if f.safe or unsafe), None)
        if fix is None:
            continue
        if any(_overlaps(edit, other) for edit in fix.edits for other in taken):
            continue
        taken.extend(fix.edits)
        chosen.append((diagnostic, fix))
    return chosen


def _overlaps(a: TextEdit, b: TextEdit) -> bool:
    if a.span.start == a.span.end == b.span.start == b.span.end:
        return True  # two insertions at one point: order would be ambiguous
    return a.span.start < b.span.end and b.span.start < a.span.end
