"""calcformula: parse, check, format and evaluate HubSpot calculation-property formulas.

>>> import calcformula
>>> result = calcformula.parse("if is_present(amount) then amount * 2 else 0")
>>> result.ok
True
>>> calcformula.format("IF a>1 THEN 'x' ELSE 'y'")
"if a > 1 then 'x' else 'y'"
"""

from __future__ import annotations

from calcformula.diagnostics import Diagnostic, Fix, Related, Severity, TextEdit
from calcformula.formatter import FormatError, Style, format_tree
from calcformula.nodes import Node, dump
from calcformula.parser import ParseResult, parse
from calcformula.span import Span

__version__ = "0.1.0"


def format(source: str | Node | ParseResult, style: Style = "canonical", width: int = 100) -> str:
    """Format a formula (text, tree or parse result) in the canonical or HubSpot style.

    Raises `FormatError` (carrying the diagnostics) when the text has syntax errors.

    >>> format("a+b*c")
    'a + b * c'
    >>> format("a = 'x'", style="hubspot")
    "a equals 'x'"
    """
    if isinstance(source, str):
        source = parse(source)
    if isinstance(source, ParseResult):
        if not source.ok:
            error = FormatError("the formula has syntax errors; fix them before formatting")
            error.diagnostics = source.diagnostics  # type: ignore[attr-defined]
            raise error
        source = source.tree
    return format_tree(source, style, width)


__all__ = [
    "Diagnostic",
    "Fix",
    "FormatError",
    "Node",
    "ParseResult",
    "Related",
    "Severity",
    "Span",
    "TextEdit",
    "dump",
    "format",
    "parse",
]
