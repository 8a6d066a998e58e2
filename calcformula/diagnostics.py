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
    title: str
    edits: tuple[TextEdit, ...]


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


def apply_fixes(text: str, diagnostics: Sequence[Diagnostic]) -> tuple[str, int]:
    """Apply the first fix of each diagnostic, in order, skipping any that overlaps one
    already taken (run again after re-checking to take the rest). Returns the new text and
    how many fixes were applied. This is the one fix engine of the CLI and language server.
    """
    taken: list[TextEdit] = []
    applied = 0
    for diagnostic in diagnostics:
        if not diagnostic.fixes:
            continue
        edits = diagnostic.fixes[0].edits
        if any(_overlaps(edit, other) for edit in edits for other in taken):
            continue
        taken.extend(edits)
        applied += 1
    return apply_edits(text, taken), applied


def _overlaps(a: TextEdit, b: TextEdit) -> bool:
    if a.span.start == a.span.end == b.span.start == b.span.end:
        return True  # two insertions at one point: order would be ambiguous
    return a.span.start < b.span.end and b.span.start < a.span.end
