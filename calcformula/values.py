"""Runtime values: exact decimals, text, booleans and blank (None), and how they print.

Numbers are `decimal.Decimal` (HubSpot computes with Java BigDecimal). Division rounds to 34
significant digits, half-even (decision E5, assumed). Results print without exponent and
without trailing zeros (decision E6).
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from calcformula.functions.registry import Value

# Decision E5: 34 significant digits, half-even (decimal128, Java's MathContext.DECIMAL128).
DIVISION_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)
# Exact arithmetic for + - *: enough digits that no realistic value is ever rounded.
EXACT_CONTEXT = decimal.Context(
    prec=1000, rounding=decimal.ROUND_HALF_EVEN, Emax=999999, Emin=-999999
)


class EvaluationProblem(Exception):
    """Raised inside a function implementation: the result is blank, and the user is told why."""

    def __init__(self, message: str, *, code: str = "CF501") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def format_number(value: Decimal) -> str:
    """Plain notation, no trailing zeros: 2.50 -> '2.5', 1E+3 -> '1000', -0 -> '0'."""
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"
    text = str(value)
    if "E" not in text:
        # The common case: str() is already plain; only trailing zeros may need to go.
        if "." in text and text[-1] == "0":
            text = text.rstrip("0").rstrip(".")
        return text
    normalized = value.normalize(EXACT_CONTEXT)
    text = format(normalized, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_value(value: Value) -> str:
    """A value as the CLI and docs print it: numbers plain, text quoted, blank as (blank)."""
    if value is None:
        return "(blank)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
