"""The function registry and its five families (math, text, dates, logic, portal)."""

from calcformula.functions import dates, logic, math, portal, text  # noqa: F401  (registration)
from calcformula.functions.registry import (
    ALIASES,
    REGISTRY,
    Blanks,
    Evidence,
    Example,
    Function,
    Param,
    Type,
    Value,
    lookup,
    suggest,
)

__all__ = [
    "ALIASES",
    "REGISTRY",
    "Blanks",
    "Evidence",
    "Example",
    "Function",
    "Param",
    "Type",
    "Value",
    "lookup",
    "suggest",
]
