"""calcformula: parse, check, format and evaluate HubSpot calculation-property formulas.

>>> import calcformula
>>> calcformula.parse("if is_present(amount) then amount * 2 else 0").ok
True
>>> calcformula.format("IF a>1 THEN 'x' ELSE 'y'")
"if a > 1 then 'x' else 'y'"
>>> calcformula.evaluate("coalesce(a, 0) + b", {"a": "", "b": "2.5"}).value
Decimal('2.5')
"""

from __future__ import annotations

import datetime as _dt
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from calcformula.diagnostics import Diagnostic, Fix, Related, Severity, TextEdit
from calcformula.formatter import FormatError, Style, format_tree
from calcformula.nodes import Node, dump
from calcformula.parser import ParseResult, parse
from calcformula.span import Span

if TYPE_CHECKING:
    from calcformula.checker import CheckResult, check
    from calcformula.evaluator import (
        CompiledFormula,
        CompileError,
        EvalContext,
        Evaluation,
        PortalContext,
    )
    from calcformula.functions import Type, Value
    from calcformula.schema import PropertyInfo, Schema, SchemaError, load_schemas
    from calcformula.trace import Trace, trace

# Loaded on first use, so that `import calcformula; calcformula.parse(...)` stays quick.
_LAZY = {
    "CheckResult": "calcformula.checker",
    "check": "calcformula.checker",
    "CompiledFormula": "calcformula.evaluator",
    "CompileError": "calcformula.evaluator",
    "EvalContext": "calcformula.evaluator",
    "Evaluation": "calcformula.evaluator",
    "PortalContext": "calcformula.evaluator",
    "Type": "calcformula.functions",
    "Value": "calcformula.functions",
    "PropertyInfo": "calcformula.schema",
    "Schema": "calcformula.schema",
    "SchemaError": "calcformula.schema",
    "load_schemas": "calcformula.schema",
    "Trace": "calcformula.trace",
    "trace": "calcformula.trace",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'calcformula' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    # `trace` is its module, which is callable: importing the submodule rebinds the name anyway
    value = loaded if name == "trace" else getattr(loaded, name)
    globals()[name] = value
    return value


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


def _context(now: int | _dt.datetime | None, portal: PortalContext | None) -> EvalContext:
    from calcformula.evaluator import EvalContext

    return EvalContext.at(now, portal)


def evaluate(
    formula: str | CheckResult,
    record: Mapping[str, object],
    schema: Schema | None = None,
    now: int | _dt.datetime | None = None,
    portal: PortalContext | None = None,
    record_id: str | None = None,
) -> Evaluation:
    """Evaluate a formula against one record (values as HubSpot's API returns them: text).

    Uses the reference evaluator. A formula with errors gives `evaluable=False` and its
    diagnostics; blank is `value=None`. `now` fixes `NOW` (epoch ms or a datetime).

    >>> evaluate("if is_present(x) then x * 2 else 0", {"x": "4"}).value
    Decimal('8')
    >>> evaluate("a + b", {"a": "1", "b": ""}).value is None
    True
    """
    from calcformula.checker import CheckResult, check
    from calcformula.evaluator import Evaluation, evaluate_tree

    checked = formula if isinstance(formula, CheckResult) else check(formula, schema=schema)
    if not checked.ok:
        errors = tuple(d for d in checked.diagnostics if d.is_error)
        return Evaluation(None, errors, evaluable=False)
    return evaluate_tree(checked.tree, record, schema, _context(now, portal), record_id)


def compile(
    formula: str | CheckResult,
    schema: Schema | None = None,
    now: int | _dt.datetime | None = None,
    portal: PortalContext | None = None,
) -> CompiledFormula:
    """Compile a formula once to evaluate many records fast; raises `CompileError` (with the
    diagnostics) when it has errors.

    >>> compiled = compile("round_nearest(amount * 1.19, 2)")
    >>> [compiled.evaluate({"amount": a}).value for a in ("10", "", "2.5")]
    [Decimal('11.90'), None, Decimal('2.98')]
    """
    from calcformula.checker import CheckResult, check
    from calcformula.evaluator import CompiledFormula

    checked = formula if isinstance(formula, CheckResult) else check(formula, schema=schema)
    return CompiledFormula(checked, schema, _context(now, portal))


__all__ = [
    "CheckResult",
    "CompileError",
    "CompiledFormula",
    "Diagnostic",
    "EvalContext",
    "Evaluation",
    "Fix",
    "FormatError",
    "Node",
    "ParseResult",
    "PortalContext",
    "PropertyInfo",
    "Related",
    "Schema",
    "SchemaError",
    "Severity",
    "Span",
    "TextEdit",
    "Trace",
    "Type",
    "Value",
    "check",
    "compile",
    "dump",
    "evaluate",
    "format",
    "load_schemas",
    "parse",
    "trace",
]
