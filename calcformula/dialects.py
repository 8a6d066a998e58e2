"""The SQL dialects calcformula writes, and how each computes numbers (docs/scale.md).

Kept apart from calcformula.sql so that listing them (the CLI's `--dialect` choices) does not
import sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one SQL engine family computes: its sqlglot name and its exact-number type (what
    each computes, precisely, is in docs/scale.md)."""

    name: str
    number_type: str
    scale: int | None  # decimal places numbers keep (None: unbounded)
    max_integer_digits: int | None
    tested: bool  # executed by the differential tests; the others are checked for syntax only


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect("duckdb", "DECIMAL(38, 10)", 10, 28, True),
        Dialect("postgres", "NUMERIC", None, None, True),
        Dialect("snowflake", "NUMBER(38, 10)", 10, 28, False),
        Dialect("bigquery", "BIGNUMERIC", 38, 38, False),
        Dialect("spark", "DECIMAL(38, 10)", 10, 28, True),  # databricks: the same SQL
        Dialect("databricks", "DECIMAL(38, 10)", 10, 28, False),
        Dialect("trino", "DECIMAL(38, 10)", 10, 28, False),
        Dialect("redshift", "DECIMAL(38, 10)", 10, 28, False),
    )
}
