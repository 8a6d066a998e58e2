"""Source positions: the `Span` every syntax node and diagnostic carries.

Offsets are 0-based indexes into the formula text (Python characters, i.e. code points);
lines and columns are 1-based and count characters. `end` is exclusive, so a span covers
``text[start:end]`` and an empty span marks a point between two characters.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple


class Span(NamedTuple):
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def covers(self, offset: int) -> bool:
        """True when `offset` lies inside the span or at its end."""
        return self.start <= offset <= self.end

    def merge(self, other: Span) -> Span:
        """The smallest span covering both."""
        first = self if self.start <= other.start else other
        last = self if self.end >= other.end else other
        return Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column)


class LineIndex:
    """Maps offsets of one text to lines and columns (and back)."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find = text.find
        position = find("\n")
        while position != -1:
            starts.append(position + 1)
            position = find("\n", position + 1)
        self._starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of an offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def span(self, start: int, end: int) -> Span:
        """A span between two offsets."""
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(start, end, line, column, end_line, end_column)

    def offset(self, line: int, column: int) -> int:
        """The offset of a 1-based (line, column), clamped into the text."""
        if line < 1:
            return 0
        if line > len(self._starts):
            return len(self.text)
        start = self._starts[line - 1]
        next_start = self._starts[line] if line < len(self._starts) else len(self.text) + 1
        return max(start, min(start + column - 1, next_start - 1, len(self.text)))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line break."""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end]

    @property
    def line_count(self) -> int:
        return len(self._starts)
