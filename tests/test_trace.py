"""Evaluation traces (issue 15): the trace agrees with both evaluators on every eval
conformance case and on random formulas, every evaluated node's value is the value of that
sub-formula, each rule gets its explanation and guard, and the JSON shape is stable."""

from __future__ import annotations

import functools
import json
from decimal import Decimal

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import calcformula
from calcformula import check
from calcformula.evaluator import CompiledFormula, EvalContext, PortalContext, evaluate_tree
from calcformula.nodes import Binary
from calcformula.schema import Schema
from calcformula.trace import Trace, TraceNode, render_text
from calcformula.values import format_value
from tests.cases import CONFORMANCE, Case, eval_inputs, load_cases
from tests.test_evaluator_properties import CONTEXT, formula, records

CASES = load_cases("eval")
NOW = 1_700_000_000_000


@functools.cache
def schema(name: str) -> Schema:
    return Schema.load(CONFORMANCE / "schemas" / f"{name}.json")


@functools.cache
def portal() -> PortalContext:
    return PortalContext.load(CONFORMANCE / "portal.json")


def nodes(node: TraceNode) -> list[TraceNode]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found


def assert_consistent(
    result: Trace, record: dict[str, object], object_schema: Schema | None, context: EvalContext
) -> None:
    """Every evaluated node that is known has the value its own sub-formula has; children
    lie inside their parent, in source order; a node not evaluated has only such children."""
    assert result.root is not None
    for node in nodes(result.root):
        assert node.text == result.formula[node.start : node.end]
        starts = [child.start for child in node.children]
        assert starts == sorted(starts)
        for child in node.children:
            assert node.start <= child.start and child.end <= node.end
            if not node.evaluated:
                assert not child.evaluated
        if node.evaluated and not (node.reason or "").startswith("not evaluable"):
            alone = evaluate_tree(node.node, record, object_schema, context)
            assert alone.evaluable
            assert alone.value == node.value, (node.text, record)
            assert type(alone.value) is type(node.value)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_trace_of_every_eval_case(case: Case) -> None:
    inputs = eval_inputs(case)
    object_schema = schema(inputs.object_name) if inputs.object_name else None
    use_portal = portal() if case.sections.get("portal") == "yes" else None
    context = EvalContext(now_ms=inputs.now_ms or NOW, portal=use_portal)
    checked = check(case.formula, schema=object_schema)
    compiled = CompiledFormula(checked, object_schema, context)
    for record, expected in zip(inputs.records, inputs.expected, strict=True):
        result = calcformula.trace(
            checked, record, object_schema, use_portal, now=inputs.now_ms or NOW
        )
        shown = format_value(result.value) if result.evaluable else "not evaluable"
        if inputs.now_ms is not None or "now" not in case.formula.lower():
            assert shown == expected, record
        fast = compiled.evaluate(record)
        assert (result.value, result.evaluable) == (fast.value, fast.evaluable)
        assert [d.code for d in result.diagnostics] == [d.code for d in fast.diagnostics]
        assert_consistent(result, record, object_schema, context)
        if result.value is None and result.evaluable:
            assert result.explanation.startswith("blank because"), result.explanation
        data = json.loads(json.dumps(result.to_json()))
        names = [c.property for c in result.blank_causes if c.property is not None]
        assert data["blank_causes"] == sorted(set(names), key=names.index)
        if result.value is not None:
            assert data["blank_causes"] == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["number", "string", "bool"]).flatmap(lambda k: formula(k, 3)),
    st.lists(records(), min_size=1, max_size=3),
)
def test_trace_agrees_with_both_evaluators(text: str, record_list: list[dict[str, object]]) -> None:
    checked = check(text)
    compiled = CompiledFormula(checked, None, CONTEXT)
    for record in record_list:
        result = calcformula.trace(checked, record, now=CONTEXT.now_ms)
        reference = calcformula.evaluate(checked, record, now=CONTEXT.now_ms)
        fast = compiled.evaluate(record)
        assert (result.value, result.evaluable) == (reference.value, reference.evaluable)
        assert (result.value, result.evaluable) == (fast.value, fast.evaluable)
        assert result.root is not None and result.root.value == result.value
        assert_consistent(result, record, None, CONTEXT)
        if result.value is None:
            assert result.explanation.startswith("blank because"), (text, record)
            for cause in result.blank_causes:
                if cause.guard is not None:
                    # every suggested guard is a formula the checker accepts
                    assert check(cause.guard).ok, cause.guard
        else:
            assert result.blank_causes == ()


DEALS_FLAG = "hs_is_closed"  # a checkbox (bool) property of the deals schema


@pytest.mark.parametrize(
    ("text", "record", "rule", "names", "explanation", "guard"),
    [
        (
            "c - d",
            {"c": "5", "d": ""},
            "E2",
            ["d"],
            "blank because `d` is blank on this record (a blank term blanks `c - d`); "
            "use `coalesce(d, 0)` if blank should count as 0",
            "coalesce(d, 0)",
        ),
        (
            "concatenate(string(first), ' ', string(last))",
            {"first": "Ada"},
            "E2",
            ["last"],
            "blank because `string(last)` is blank on this record (a blank argument blanks "
            "`concatenate(string(first), ' ', string(last))`); use `coalesce(string(last), '')` "
            "if blank should count as empty text",
            "coalesce(string(last), '')",
        ),
        (
            "a > 1 or bool(b)",
            {"a": "0"},
            "E3",
            ["b"],
            "blank because `bool(b)` is blank on this record (`a > 1 or bool(b)` is blank when "
            "an operand is blank and no operand decides it: three-valued logic); use "
            "`coalesce(bool(b), false)` if blank should count as false",
            "coalesce(bool(b), false)",
        ),
        (
            "if amount > 1000 then 'big' else 'small'",
            {},
            "E4",
            ["amount"],
            "blank because `amount` is blank on this record (the condition `amount > 1000` is "
            "blank, and a blank condition blanks the whole `if`, it does not fall to `else`); "
            "use `is_present(amount) and amount > 1000` so that a blank `amount` counts as "
            "false",
            "is_present(amount) and amount > 1000",
        ),
        (
            "amount / quantity",
            {"amount": "10", "quantity": "0"},
            "division_by_zero",
            ["quantity"],
            "blank because `quantity` is 0 on this record and division by zero is blank "
            "(`amount / quantity`); use `if quantity != 0 then amount / quantity else 0` if it "
            "should be 0 instead",
            "if quantity != 0 then amount / quantity else 0",
        ),
        (
            "amount * 2",
            {"amount": "12 EUR"},
            "unreadable",
            ["amount"],
            "blank because `amount` has the value `12 EUR` on this record, which cannot be read "
            "as a number, so it is blank (a blank term blanks `amount * 2`); fix the value, or "
            "use `coalesce(amount, 0)` if blank should count as 0",
            "coalesce(amount, 0)",
        ),
        (
            "if amount > 100 then 1 elseif amount > 10 then 2 endif",
            {"amount": "5"},
            "no_branch",
            [],
            "blank because no condition of the `if` is true and it has no `else` (`endif` gives "
            "blank); add `else` with the value it should have then",
            None,
        ),
        (
            "closedate - createdate",
            {"createdate": "2024-01-02"},
            "E2",
            ["closedate"],
            "blank because `closedate` is blank on this record (a blank term blanks "
            "`closedate - createdate`); use `is_present(closedate)` in an `if` first: a "
            "missing date has no sensible default",
            "is_present(closedate)",
        ),
    ],
)
def test_explanation_for_each_rule(
    text: str,
    record: dict[str, object],
    rule: str,
    names: list[str],
    explanation: str,
    guard: str | None,
) -> None:
    deals = schema("deals") if DEALS_FLAG in text or "closedate" in text else None
    # The checker rejects a bare checkbox when it knows the schema (CF205); HubSpot accepts
    # it, so a formula checked without the schema is still traced against it.
    checked = check(text, schema=None if DEALS_FLAG in text else deals)
    result = calcformula.trace(checked, record, schema=deals)
    assert result.value is None and result.evaluable
    assert [c.rule for c in result.blank_causes] == [rule]
    assert [c.property for c in result.blank_causes if c.property] == names
    assert result.blank_causes[0].guard == guard
    assert result.explanation == explanation
    if guard is not None:
        assert check(guard, schema=deals).ok, guard


def test_causes_are_in_source_order_and_branches_not_taken_are_marked() -> None:
    result = calcformula.trace(
        "if is_present(x) then a + b * c else a - b", {"x": "1", "b": "", "c": ""}
    )
    assert [c.property for c in result.blank_causes] == ["a", "b", "c"]
    twice = calcformula.trace("d * 2 + d", {})
    assert [c.property for c in twice.blank_causes] == ["d", "d"]
    assert twice.to_json()["blank_causes"] == ["d"]  # each property once, in source order
    assert result.root is not None
    else_branch = result.root.children[-1]
    assert not else_branch.evaluated
    assert else_branch.reason == "not evaluated: an earlier condition is true"
    assert all(not n.evaluated for n in nodes(else_branch))
    decided = calcformula.trace("false and x > 1", {})
    assert decided.value is False and decided.root is not None
    right = decided.root.children[1]
    assert not right.evaluated and "whatever follows (E3)" in (right.reason or "")


def test_not_blank_result_explains_the_branch() -> None:
    result = calcformula.trace("if is_present(x) then x * 2 else 0", {})
    assert result.value == Decimal(0)
    assert result.blank_causes == ()
    assert result.explanation == (
        "the result is 0 because no condition is true, so the `else` branch gives it "
        "(`x` is blank on this record but did not decide the result)"
    )


def test_not_evaluable_and_errors() -> None:
    unknown = calcformula.trace("pipeline_probability(string(dealstage))", {"dealstage": "x"})
    assert not unknown.evaluable and unknown.value is None
    assert unknown.explanation.startswith("not evaluable offline: ")
    assert unknown.to_json()["evaluable"] is False
    broken = calcformula.trace("1 +", {})
    assert not broken.evaluable and broken.root is None and broken.diagnostics
    assert broken.to_json()["trace"] is None
    assert render_text(broken).startswith("not evaluated: the formula has errors")


def test_json_shape() -> None:
    result = calcformula.trace("if a > 1 then a / 3 else string_length('ab')", {"a": "2"})
    data = result.to_json()
    assert set(data) == {"value", "evaluable", "trace", "blank_causes", "explanation"}
    root = data["trace"]
    assert set(root) == {"start", "end", "text", "value", "evaluated", "reason", "children"}
    assert (root["start"], root["end"]) == (0, len(result.formula))
    assert [c["text"] for c in root["children"]] == ["a > 1", "a / 3", "string_length('ab')"]
    assert [c["evaluated"] for c in root["children"]] == [True, True, False]
    assert root["children"][0]["value"] is True
    json.dumps(data)  # plain JSON data
    exact = json.loads(result.to_json_text(), parse_float=Decimal)
    assert exact["value"] == Decimal("0.6666666666666666666666666666666667")
    assert exact["trace"] == json.loads(json.dumps(data["trace"]), parse_float=Decimal) | {
        "value": exact["value"],
        "children": exact["trace"]["children"],
    }


def test_render_text_aligns_values_and_colours_the_blank_path() -> None:
    result = calcformula.trace("c - d", {"c": "5", "d": ""})
    assert render_text(result) == (
        "c - d  (blank)  a blank term blanks it (E2)\n"
        "  c    5\n"
        "  d    (blank)  blank on this record\n" + result.explanation + "\n"
    )
    coloured = result.render_text(color=True)
    assert "\033[1;31m  d    (blank)" in coloured
    assert "\033[1;31m  c" not in coloured


@pytest.mark.parametrize(
    "text",
    [
        "abs(" * 199 + "x" + ")" * 199,
        "if true then " * 199 + "x" + " else 0" * 199,
        "(" * 200 + "x" + " + 1)" * 200,
    ],
    ids=["calls", "ifs", "parenthesised sums"],
)
def test_the_deepest_formulas_the_parser_accepts_trace_and_print(text: str) -> None:
    checked = check(text)
    assert checked.ok
    result = calcformula.trace(checked, {"x": "1"})
    assert result.value == calcformula.evaluate(checked, {"x": "1"}).value
    assert json.loads(result.to_json_text()) == json.loads(json.dumps(result.to_json()))
    assert render_text(result).count("\n") > 199


def test_step_of_any_node_including_links_inside_a_chain() -> None:
    result = calcformula.trace("a + b - c", {"a": "1", "b": "2", "c": ""})
    assert result.root is not None
    chain = result.root.node
    assert isinstance(chain, Binary) and isinstance(chain.left, Binary)
    link = result.step(chain.left)  # `a + b`: a running value, not a step of its own
    assert link is not None and link.text == "a + b" and link.value == Decimal(3)
    assert [c.text for c in link.children] == ["a", "b"]
    assert result.step(chain) is result.root
    assert result.step(check("a + b").tree) is None  # a node of another tree
    skipped = calcformula.trace("if false then a + b + c else 0", {"a": "1"})
    assert skipped.root is not None
    branch = skipped.root.children[1].node
    assert isinstance(branch, Binary) and isinstance(branch.left, Binary)
    inner = skipped.step(branch.left)
    assert inner is not None and not inner.evaluated


def test_a_checkbox_read_bare_is_not_evaluable_and_says_what_to_write() -> None:
    # Decision T2a: HubSpot gives blank for a bare checkbox even through coalesce(…), which
    # blank propagation cannot reproduce; the evaluator does not guess, and the trace says why.
    deals = schema("deals")
    text = f"if {DEALS_FLAG} = 1 then 'closed' else 'open'"
    result = calcformula.trace(check(text), {DEALS_FLAG: "true"}, schema=deals)
    assert result.value is None and not result.evaluable
    assert "checkbox read as a number" in result.explanation
    assert result.explanation.endswith(f"write `bool({DEALS_FLAG})`")
    assert check(f"if bool({DEALS_FLAG}) then 'closed' else 'open'", schema=deals).ok
