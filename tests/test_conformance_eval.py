"""Runs the evaluation conformance cases through both evaluators, which must agree."""

from __future__ import annotations

import functools

import pytest

from calcformula import check
from calcformula.evaluator import (
    CompiledFormula,
    EvalContext,
    Evaluation,
    PortalContext,
    evaluate_tree,
)
from calcformula.schema import Schema
from calcformula.values import format_value
from tests.cases import CONFORMANCE, Case, eval_inputs, load_cases

CASES = load_cases("eval")


@functools.cache
def schema(name: str) -> Schema:
    return Schema.load(CONFORMANCE / "schemas" / f"{name}.json")


@functools.cache
def portal() -> PortalContext:
    return PortalContext.load(CONFORMANCE / "portal.json")


def shown(evaluation: Evaluation) -> str:
    return format_value(evaluation.value) if evaluation.evaluable else "not evaluable"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    sections = case.sections
    inputs = eval_inputs(case)
    object_schema = schema(inputs.object_name) if inputs.object_name else None
    context = EvalContext(portal=portal() if sections.get("portal") == "yes" else None)
    if inputs.now_ms is not None:
        context = EvalContext(now_ms=inputs.now_ms, portal=context.portal)
    records, expected = inputs.records, inputs.expected
    checked = check(case.formula, schema=object_schema)
    assert checked.ok, checked.diagnostics
    compiled = CompiledFormula(checked, object_schema, context)
    assert len(records) == len(expected)
    for record, value in zip(records, expected, strict=True):
        reference = evaluate_tree(checked.tree, record, object_schema, context)
        fast = compiled.evaluate(record)
        assert shown(reference) == value, record
        assert shown(fast) == value, record
        assert [d.code for d in fast.diagnostics] == [d.code for d in reference.diagnostics]
        if "diagnostics" in sections:
            assert [d.code for d in reference.diagnostics] == sections["diagnostics"].split()
