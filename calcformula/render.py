"""Renders diagnostics for people (file:line:col, the source line, a caret underline) and
for machines (JSON). The CLI's GitHub and SARIF formats build on the same records.

Two guarantees hold for everything rendered here (and for the language server, which uses
`redact` and `clip`): the value of `HUBSPOT_ACCESS_TOKEN` never appears, not even a piece of
it, because formulas are written by anyone who opens a pull request while CI runs with the
token in its environment; and no source line or message is echoed beyond a bounded excerpt,
so a 1 MB one-line formula gives a short report.
"""

from __future__ import annotations

import functools
import json
import os
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

TOKEN_VARIABLE = "HUBSPOT_ACCESS_TOKEN"
MIN_SECRET = 8  # shorter values would redact ordinary words; real tokens are 40+ characters
FRAGMENT = 12  # any piece this long of the token is masked (messages shorten what they quote)
EXCERPT = 120  # characters of a source line shown around a diagnostic's range
MAX_MESSAGE = 1000  # characters of a message or a related note shown


def redact(text: str) -> str:
    """`text` with every occurrence of the access token (and of any piece of it of
    `FRAGMENT` characters) masked by as many `*`, so that carets still line up."""
    secret = os.environ.get(TOKEN_VARIABLE, "").strip()
    if len(secret) < MIN_SECRET or not text:
        return text
    if secret in text:
        text = text.replace(secret, "*" * len(secret))
    size = min(len(secret), FRAGMENT)
    pieces = _pieces(secret, size)
    masked: list[int] = []
    end = -1
    for i in range(len(text) - size + 1):
        if text[i : i + size] in pieces:
            masked.extend(range(max(i, end), i + size))
            end = i + size
    if not masked:
        return text
    chars = list(text)
    for i in masked:
        chars[i] = "*"
    return "".join(chars)


@functools.lru_cache(maxsize=4)
def _pieces(secret: str, size: int) -> frozenset[str]:
    return frozenset(secret[i : i + size] for i in range(len(secret) - size + 1))


class RedactingStream:
    """A text stream that redacts every write (`redact`): the command's standard output and
    error go through it whenever the token is set, so no value, SQL text or message it prints
    (not only diagnostics) can show the token."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.encoding = getattr(stream, "encoding", "utf-8")
        self.errors = getattr(stream, "errors", "strict")

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    @property
    def buffer(self) -> Any:
        # The language server speaks JSON-RPC in bytes and redacts what it sends itself.
        return self._stream.buffer

    def fileno(self) -> int:
        return int(self._stream.fileno())

    @property
    def closed(self) -> bool:
        return bool(getattr(self._stream, "closed", False))

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False


def token_is_set() -> bool:
    return len(os.environ.get(TOKEN_VARIABLE, "").strip()) >= MIN_SECRET


def redact_data(value: Any) -> Any:
    """A JSON-like value with every string in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """At most `limit` characters: the start and the end, joined by an ellipsis."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "…" + text[len(text) - half :]


def _safe(text: str) -> str:
    return redact(clip(text))


def excerpt(line: str, column: int, width: int, limit: int = EXCERPT) -> tuple[str, int, int]:
    """A window of at most `limit` characters of `line` around the range at `column`
    (1-based) of `width` characters, with an ellipsis on each cut side; returns the shown
    text and the range's column and width in it."""
    if len(line) <= limit:
        return line, column, width
    width = max(1, min(width, limit // 2))
    start = max(0, column - 1 - (limit - width) // 2)
    end = min(len(line), start + limit)
    start = max(0, end - limit)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(line) else ""
    shown_column = column - start + len(prefix)
    width = max(1, min(width, end - (column - 1)))
    return prefix + line[start:end] + suffix, shown_column, width


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
        lines = [_safe(head)]
        if span.line <= index.line_count:
            source = index.line_text(span.line)
            width = (
                (span.end_column - span.column)
                if span.end_line == span.line
                else (len(source) - span.column + 1)
            )
            # Redacted before the window is cut, so that no cut leaves a piece of the token.
            source = redact(source)
            source, column, width = excerpt(source, span.column, max(1, width))
            source = source.replace("\t", " ")  # carets line up
            gutter = str(span.line)
            marker = " " * (column - 1) + "^" + "~" * (width - 1)
            shown = "".join(c if c.isprintable() else "\ufffd" for c in source)
            lines.append(f" {gutter} | {shown}")
            underline = (
                marker
                if not colour
                else (" " * (column - 1) + _COLOURS[diagnostic.severity] + marker.strip() + _RESET)
            )
            lines.append(f" {' ' * len(gutter)} | {underline}")
        for related in diagnostic.related:
            lines.append(
                _safe(
                    f"  note: {path}:{related.span.line}:{related.span.column}: {related.message}"
                )
            )
        for fix in diagnostic.fixes:
            lines.append(_safe(f"  fix: {fix.title}" + ("" if fix.safe else " (unsafe)")))
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def diagnostic_record(diagnostic: Diagnostic, path: str | None = None) -> dict[str, Any]:
    """The JSON form of one diagnostic (1-based lines and columns, end exclusive)."""
    span = diagnostic.span
    record: dict[str, Any] = {
        "code": diagnostic.code,
        "severity": _severity_word(diagnostic.severity),
        "message": diagnostic.message,
        "start": {"line": span.line, "column": span.column, "offset": span.start},
        "end": {"line": span.end_line, "column": span.end_column, "offset": span.end},
        "fixes": [
            {
                "title": fix.title,
                "safe": fix.safe,
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
    record["message"] = clip(record["message"])
    for related in record["related"]:
        related["message"] = clip(related["message"])
    redacted: dict[str, Any] = redact_data(record)
    return redacted


def render_json(diagnostics: Sequence[Diagnostic], path: str | None = None) -> str:
    return json.dumps(
        [diagnostic_record(d, path) for d in diagnostics], indent=2, ensure_ascii=False
    )


def _severity_word(severity: Severity) -> str:
    """JSON and CI formats know error, warning and info (a hint is shown as info)."""
    return "info" if severity is Severity.HINT else severity.value


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[tuple[str, Diagnostic]]) -> str:
    """GitHub Actions workflow commands (`::error file=…,line=…::message`), escaped."""
    command = {Severity.ERROR: "error", Severity.WARNING: "warning"}
    lines = []
    for path, diagnostic in diagnostics:
        span = diagnostic.span
        properties = ",".join(
            f"{key}={_escape_property(str(value))}"
            for key, value in (
                ("file", path),
                ("line", span.line),
                ("col", span.column),
                ("endLine", span.end_line),
                ("endColumn", span.end_column),
                ("title", f"calcformula {diagnostic.code}"),
            )
        )
        kind = command.get(diagnostic.severity, "notice")
        lines.append(redact(f"::{kind} {properties}::{_escape_data(_safe(diagnostic.message))}"))
    return "\n".join(lines)


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}


def render_sarif(diagnostics: Sequence[tuple[str, Diagnostic]], version: str) -> str:
    """A SARIF 2.1.0 log with a rule for every diagnostic code (for GitHub code scanning)."""
    from calcformula.codes import CODES

    rules = []
    rule_index: dict[str, int] = {}
    for index, code in enumerate(CODES.values()):
        rule_index[code.code] = index
        rules.append(
            {
                "id": code.code,
                "name": "".join(part.capitalize() for part in code.name.split("-")),
                "shortDescription": {"text": code.name.replace("-", " ")},
                "fullDescription": {"text": code.summary},
                "help": {
                    "text": f"{code.summary}\n\nEvidence: {code.evidence}",
                    "markdown": f"{code.summary}\n\n*Evidence:* {code.evidence}",
                },
                "helpUri": f"https://github.com/calcformula/calcformula/blob/main/docs/"
                f"diagnostics.md#{code.code.lower()}",
                "defaultConfiguration": {"level": _SARIF_LEVEL[code.severity]},
            }
        )
    results = []
    for path, diagnostic in diagnostics:
        span = diagnostic.span
        result: dict[str, Any] = {
            "ruleId": diagnostic.code,
            "ruleIndex": rule_index[diagnostic.code],
            "level": _SARIF_LEVEL[diagnostic.severity],
            "message": {"text": clip(diagnostic.message)},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": path},
                        "region": {
                            "startLine": span.line,
                            "startColumn": span.column,
                            "endLine": span.end_line,
                            "endColumn": span.end_column,
                        },
                    }
                }
            ],
        }
        if diagnostic.related:
            result["relatedLocations"] = [
                {
                    "id": i,
                    "message": {"text": clip(r.message)},
                    "physicalLocation": {
                        "artifactLocation": {"uri": path},
                        "region": {
                            "startLine": r.span.line,
                            "startColumn": r.span.column,
                            "endLine": r.span.end_line,
                            "endColumn": r.span.end_column,
                        },
                    },
                }
                for i, r in enumerate(diagnostic.related)
            ]
        if diagnostic.fixes:
            result["fixes"] = [
                {
                    "description": {"text": fix.title},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": path},
                            "replacements": [
                                {
                                    "deletedRegion": {
                                        "startLine": e.span.line,
                                        "startColumn": e.span.column,
                                        "endLine": e.span.end_line,
                                        "endColumn": e.span.end_column,
                                    },
                                    "insertedContent": {"text": e.new_text},
                                }
                                for e in fix.edits
                            ],
                        }
                    ],
                }
                for fix in diagnostic.fixes
            ]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "calcformula",
                        "version": version,
                        "informationUri": "https://github.com/calcformula/calcformula",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(redact_data(log), indent=2, ensure_ascii=False)
