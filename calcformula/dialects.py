"""The SQL dialects calcformula writes, and how each computes numbers (docs/scale.md).

Kept apart from calcformula.sql so that listing them (the CLI's `--dialect` choices) does not
import sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one SQL engine family computes: its sqlglot name and its exact-number type."""

    name: str
    number_type: str
    scale: int | None  # decimal places numbers keep (None: unbounded)
    max_integer_digits: int | None
    tested: bool  # executed by the differential tests; the others are checked for syntax only
    description: str


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect(
            "duckdb",
            "DECIMAL(38, 10)",
            10,
            28,
            True,
            "DECIMAL(38,10): 10 decimals; quotients, square roots and powers in double "
            "precision, then rounded to 10 decimals",
        ),
        Dialect(
            "postgres",
            "NUMERIC",
            None,
            None,
            True,
            "NUMERIC (unbounded): + - * exact; quotients to at least 40 decimals; sqrt and "
            "power to PostgreSQL's numeric precision (16 significant digits or more)",
        ),
        Dialect("snowflake", "NUMBER(38, 10)", 10, 28, False, "NUMBER(38,10)"),
        Dialect("bigquery", "BIGNUMERIC", 38, 38, False, "BIGNUMERIC"),
        Dialect("spark", "DECIMAL(38, 10)", 10, 28, False, "DECIMAL(38,10)"),
        Dialect("databricks", "DECIMAL(38, 10)", 10, 28, False, "DECIMAL(38,10)"),
        Dialect("trino", "DECIMAL(38, 10)", 10, 28, False, "DECIMAL(38,10)"),
        Dialect("redshift", "DECIMAL(38, 10)", 10, 28, False, "DECIMAL(38,10)"),
    )
}
