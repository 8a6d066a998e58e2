"""Runtime values: exact decimals, text, booleans and blank (None), and how they print.

Numbers are `decimal.Decimal` (HubSpot computes with Java BigDecimal). Division rounds to 34
significant digits, half-even (decision E5, assumed). Results print without exponent and
without trailing zeros (decision E6).
"""

from __future__ import annotations

import decimal
import json
from decimal import Decimal

from calcformula.functions.registry import Value

# Decision E5: 34 significant digits, half-even (decimal128, Java's MathContext.DECIMAL128).
DIVISION_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)
# Exact arithmetic for + - *: enough digits that no realistic value is ever rounded.
EXACT_CONTEXT = decimal.Context(
    prec=1000, rounding=decimal.ROUND_HALF_EVEN, Emax=999999, Emin=-999999
)


# The text forms of values, shared with the SQL compiler so that every engine reads a record
# the same way. ASCII digits only: `\d` would admit other scripts' digits.
NUMBER_TEXT = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"
EPOCH_TEXT = r"-?[0-9]{1,16}"
# The ISO 8601 forms HubSpot's API and exports use: a day, or a day and a time to the minute,
# second or fraction, with `Z` or an offset (no zone: UTC).
DATETIME_TEXT = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?"
    r"(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?"
)
WHITESPACE = " "  # around a value, only spaces are ignored: every engine trims the same


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


def json_value(value: Value) -> str:
    """A value as JSON text, as `eval --format json` writes it: numbers exact (the number's
    own digits, never a float), blank as null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)
    return json.dumps(value, ensure_ascii=False)
