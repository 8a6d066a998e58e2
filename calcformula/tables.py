"""Tables on a terminal (eval's results, `functions`, `explain`): columns under their
headings, measured in the columns characters take on screen."""

from __future__ import annotations

import unicodedata
from typing import IO


def display_width(text: str) -> int:
    """Columns the text takes on a terminal: wide (East Asian) characters take two,
    combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def fit(text: str, width: int) -> str:
    """The text cut to `width` columns (an ellipsis marks the cut), padded to exactly that."""
    if display_width(text) > width:
        kept = ""
        for char in text:
            if display_width(kept + char) > width - 1:
                break
            kept += char
        text = kept + "…"
    return text + " " * (width - display_width(text))


def write_table(stream: IO[str], headers: list[str], rows: list[list[str]], cap: int = 40) -> None:
    """Columns under their headings: each as wide as its heading and its widest cell (cells
    are cut at `cap` columns), the last column left as long as it is."""
    cells = [[" ".join(cell.split()) for cell in row] for row in rows]  # one line per row
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], min(display_width(cell), cap))
        widths[-1] = max(widths[-1], min(display_width(row[-1]), cap))

    def line(row: list[str]) -> str:
        parts = [fit(cell, widths[i]) for i, cell in enumerate(row[:-1])]
        return "  ".join([*parts, row[-1]]).rstrip()

    stream.write(line(headers) + "\n")
    stream.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        stream.write(line(row) + "\n")
