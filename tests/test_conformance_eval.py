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
    # Every case states what it expects to be reported: by the checker (`check`, codes or
    # `ok`) and by the evaluation of each record (`diagnostics`, one line per record: codes
    # or `none`).
    assert "check" in sections and "diagnostics" in sections, "state check and diagnostics"
    stated = sections["check"].split()
    assert [d.code for d in checked.diagnostics] == ([] if stated == ["ok"] else stated)
    per_record = sections["diagnostics"].splitlines()
    compiled = CompiledFormula(checked, object_schema, context)
    assert len(records) == len(expected) == len(per_record)
    for record, value, line in zip(records, expected, per_record, strict=True):
        reference = evaluate_tree(checked.tree, record, object_schema, context)
        fast = compiled.evaluate(record)
        assert shown(reference) == value, record
        assert shown(fast) == value, record
        assert [d.code for d in fast.diagnostics] == [d.code for d in reference.diagnostics]
        wanted = [] if line.strip() == "none" else line.split()
        assert [d.code for d in reference.diagnostics] == wanted, record
