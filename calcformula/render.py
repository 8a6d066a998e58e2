"""Renders diagnostics for people (file:line:col, the source line, a caret underline) and
for machines (JSON). The CLI's GitHub and SARIF formats build on the same records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from calcformula.diagnostics import Diagnostic, Severity
from calcformula.span import LineIndex

_COLOURS = {
    Severity.ERROR: "\033[1;31m",
    Severity.WARNING: "\033[1;33m",
    Severity.INFO: "\033[1;36m",
    Severity.HINT: "\033[1;34m",
}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def _expand_tabs(line: str, column: int) -> tuple[str, int]:
    """The line with tabs as single spaces, so carets line up."""
    return line.replace("\t", " "), column


def render_text(
    diagnostics: Sequence[Diagnostic], text: str, path: str = "<formula>", colour: bool = False
) -> str:
    """Human-readable report: one block per diagnostic, with the source line and carets."""
    index = LineIndex(text)
    blocks: list[str] = []
    for diagnostic in diagnostics:
        span = diagnostic.span
        severity = diagnostic.severity.value
        head = (
            f"{path}:{span.line}:{span.column}: {severity}[{diagnostic.code}]: {diagnostic.message}"
        )
        if colour:
            head = (
                f"{_BOLD}{path}:{span.line}:{span.column}:{_RESET} "
                f"{_COLOURS[diagnostic.severity]}{severity}[{diagnostic.code}]{_RESET}: "
                f"{diagnostic.message}"
            )
        lines = [head]
        if span.line <= index.line_count:
            source, _ = _expand_tabs(index.line_text(span.line), span.column)
            gutter = str(span.line)
            width = (
                (span.end_column - span.column)
                if span.end_line == span.line
                else (len(source) - span.column + 1)
            )
            width = max(1, width)
            marker = " " * (span.column - 1) + "^" + "~" * (width - 1)
            shown = "".join(c if c.isprintable() else "\ufffd" for c in source)
            lines.append(f" {gutter} | {shown}")
            underline = (
                marker
                if not colour
                else (
                    " " * (span.column - 1)
                    + _COLOURS[diagnostic.severity]
                    + marker.strip()
                    + _RESET
                )
            )
            lines.append(f" {' ' * len(gutter)} | {underline}")
        for related in diagnostic.related:
            lines.append(
                f"  note: {path}:{related.span.line}:{related.span.column}: {related.message}"
            )
        for fix in diagnostic.fixes:
            lines.append(f"  fix: {fix.title}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def diagnostic_record(diagnostic: Diagnostic, path: str | None = None) -> dict[str, Any]:
    """The JSON form of one diagnostic (1-based lines and columns, end exclusive)."""
    span = diagnostic.span
    record: dict[str, Any] = {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "start": {"line": span.line, "column": span.column, "offset": span.start},
        "end": {"line": span.end_line, "column": span.end_column, "offset": span.end},
        "fixes": [
            {
                "title": fix.title,
                "edits": [
                    {
                        "start": {
                            "line": e.span.line,
                            "column": e.span.column,
                            "offset": e.span.start,
                        },
                        "end": {
                            "line": e.span.end_line,
                            "column": e.span.end_column,
                            "offset": e.span.end,
                        },
                        "new_text": e.new_text,
                    }
                    for e in fix.edits
                ],
            }
            for fix in diagnostic.fixes
        ],
        "related": [
            {
                "message": r.message,
                "start": {"line": r.span.line, "column": r.span.column},
                "end": {"line": r.span.end_line, "column": r.span.end_column},
            }
            for r in diagnostic.related
        ],
    }
    if path is not None:
        record = {"path": path, **record}
    if diagnostic.context:
        record["context"] = dict(diagnostic.context)
    return record


def render_json(diagnostics: Sequence[Diagnostic], path: str | None = None) -> str:
    return json.dumps(
        [diagnostic_record(d, path) for d in diagnostics], indent=2, ensure_ascii=False
    )
