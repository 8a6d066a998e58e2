"""The function registry: every documented example evaluates to its documented result, and
the registry's facts are consistent."""

from __future__ import annotations

import functools

import pytest

from calcformula import check
from calcformula.evaluator import CompiledFormula, EvalContext, PortalContext, evaluate_tree
from calcformula.functions import REGISTRY, Blanks, Evidence, Example, Function
from calcformula.values import format_value
from tests.cases import CONFORMANCE

EXAMPLES = [(f, e) for f in REGISTRY.values() for e in f.examples]


@functools.cache
def portal_context() -> EvalContext:
    return EvalContext(portal=PortalContext.load(CONFORMANCE / "portal.json"))


@pytest.mark.parametrize(
    ("function", "example"), EXAMPLES, ids=[f"{f.name}:{e.formula}" for f, e in EXAMPLES]
)
def test_example(function: Function, example: Example) -> None:
    checked = check(example.formula)
    assert checked.ok, checked.diagnostics
    record = dict(example.record)
    context = portal_context()
    reference = evaluate_tree(checked.tree, record, None, context)
    compiled = CompiledFormula(checked, None, context).evaluate(record)
    assert reference.evaluable and compiled.evaluable
    assert format_value(reference.value) == example.result
    assert format_value(compiled.value) == example.result


def test_every_function_with_known_semantics_has_an_example() -> None:
    missing = [f.name for f in REGISTRY.values() if f.implementation and not f.examples]
    assert not missing


def test_unknown_functions_are_never_evaluated() -> None:
    for function in REGISTRY.values():
        if function.evidence is Evidence.UNKNOWN and function.name not in (
            "is_blank",
            "regex_matches",
        ):
            assert function.implementation is None, function.name


def test_variadic_arity_is_2_to_100() -> None:
    for name in ("max", "min", "concatenate"):
        function = REGISTRY[name]
        assert function.variadic and function.min_args == 2 and function.max_args == 100
        assert function.accepts_count(100) and not function.accepts_count(101)


def test_blank_rules_are_declared() -> None:
    assert REGISTRY["is_present"].blanks is Blanks.ABSORB
    assert REGISTRY["coalesce"].blanks is Blanks.FALLBACK
    assert REGISTRY["max"].blanks is Blanks.PROPAGATE
