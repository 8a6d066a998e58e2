"""Hypothesis: random well-typed formulas and random records (blanks included). The reference
and compiled evaluators must agree, and a formula the checker accepts never raises."""

from __future__ import annotations

import re

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from calcformula import check
from calcformula.evaluator import CompiledFormula, EvalContext, evaluate_tree

NUMBER_PROPS = ["n0", "n1", "n2", "n3"]
STRING_PROPS = ["s0", "s1", "s2"]
BOOL_PROPS = ["b0", "b1"]
CONTEXT = EvalContext(now_ms=1_700_000_000_000)

ROUNDERS = st.sampled_from(["round_down", "round_up", "round_nearest"])


def _infix(parts: tuple[str, str, str]) -> str:
    return f"({parts[0]} {parts[1]} {parts[2]})"


def _rounding(parts: tuple[str, str, str]) -> str:
    return f"{parts[2]}({parts[0]}, {parts[1]})"


numbers = st.sampled_from(["0", "1", "2.5", "-3", "100", "0.001", "1e3", "7"])


def formula(kind: str, depth: int) -> st.SearchStrategy[str]:
    if kind == "number":
        leaves = st.one_of(numbers, st.sampled_from(NUMBER_PROPS), st.just("e"))
    elif kind == "string":
        leaves = st.one_of(
            st.sampled_from(["'a'", "'B c'", "''", "'+49'"]),
            st.sampled_from([f"string({p})" for p in STRING_PROPS]),
        )
    else:
        leaves = st.one_of(
            st.sampled_from(["true", "false"]), st.sampled_from([f"bool({p})" for p in BOOL_PROPS])
        )
    if depth <= 0:
        return leaves
    n, s, b = (formula(k, depth - 1) for k in ("number", "string", "bool"))
    if kind == "number":
        composite = st.one_of(
            st.tuples(n, st.sampled_from(["+", "-", "*", "/"]), n).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            n.map(lambda x: f"-{x}"),
            st.tuples(n, n).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
            st.tuples(
                n,
                st.sampled_from(["0", "1", "2", "-1"]),
                st.sampled_from(["round_down", "round_up", "round_nearest"]),
            ).map(lambda t: f"{t[2]}({t[0]}, {t[1]})"),
            st.lists(n, min_size=2, max_size=4).map(lambda xs: f"max({', '.join(xs)})"),
            st.lists(n, min_size=2, max_size=4).map(lambda xs: f"min({', '.join(xs)})"),
            n.map(lambda x: f"abs({x})"),
            s.map(lambda x: f"string_length({x})"),
            s.map(lambda x: f"string_to_number({x})"),
            st.tuples(b, n, n).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
            st.tuples(b, n).map(lambda t: f"(if {t[0]} then {t[1]} endif)"),
            st.tuples(b, n, b, n, n).map(
                lambda t: f"(if {t[0]} then {t[1]} elseif {t[2]} then {t[3]} else {t[4]})"
            ),
        )
    elif kind == "string":
        composite = st.one_of(
            st.tuples(s, s).map(lambda t: f"({t[0]} + {t[1]})"),
            st.lists(s, min_size=2, max_size=3).map(lambda xs: f"concatenate({', '.join(xs)})"),
            s.map(lambda x: f"to_upper_case({x})"),
            n.map(lambda x: f"number_to_string({x})"),
            st.tuples(s, s).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
            st.tuples(s, s).map(lambda t: f"format_full_name({t[0]}, {t[1]})"),
            s.map(lambda x: f"substring({x}, 0, 1)"),
            st.tuples(b, s, s).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
        )
    else:
        composite = st.one_of(
            st.tuples(n, st.sampled_from(["<", ">", "<=", ">=", "=", "!="]), n).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(s, st.sampled_from(["=", "!=", "equals"]), s).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(b, st.sampled_from(["and", "or", "xor"]), b).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            b.map(lambda x: f"not {x}"),
            st.one_of(n, s, b).map(lambda x: f"is_present({x})"),
            st.one_of(n, s).map(lambda x: f"is_blank({x})"),
            st.tuples(s, s).map(lambda t: f"contains({t[0]}, {t[1]})"),
            st.tuples(s, s).map(lambda t: f"begins_with({t[0]}, {t[1]})"),
        )
    return st.one_of(leaves, composite)


def records() -> st.SearchStrategy[dict[str, object]]:
    number_values = st.one_of(
        st.none(),
        st.sampled_from(["", "0", "1", "-2.5", "3.25", "1e2", "abc", "99999999999", " 4 "]),
    )
    string_values = st.one_of(st.none(), st.sampled_from(["", "x", "Ab", "+49 30", "  ", "a;b"]))
    bool_values = st.one_of(st.none(), st.sampled_from(["", "true", "false", "yes"]))
    return st.fixed_dictionaries(
        {
            **{p: number_values for p in NUMBER_PROPS},
            **{p: string_values for p in STRING_PROPS},
            **{p: bool_values for p in BOOL_PROPS},
        }
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["number", "string", "bool"]).flatmap(lambda k: formula(k, 3)),
    st.lists(records(), min_size=1, max_size=4),
)
def test_reference_and_compiled_agree(text: str, record_list: list[dict[str, object]]) -> None:
    checked = check(text)
    assert checked.ok, (text, checked.diagnostics)
    compiled = CompiledFormula(checked, None, CONTEXT)
    for record in record_list:
        reference = evaluate_tree(checked.tree, record, None, CONTEXT)
        fast = compiled.evaluate(record)
        assert (fast.value, fast.evaluable) == (reference.value, reference.evaluable), (
            text,
            record,
        )
        assert [(d.code, d.span) for d in fast.diagnostics] == [
            (d.code, d.span) for d in reference.diagnostics
        ]


TEXT = st.lists(
    st.sampled_from(
        [
            "a",
            "b",
            "1",
            "0",
            "2.5",
            "+",
            "-",
            "*",
            "/",
            " ",
            "(",
            ")",
            ",",
            "=",
            "<",
            "and ",
            " or ",
            "not ",
            "if ",
            " then ",
            " else ",
            " endif",
            "max(",
            "coalesce(",
            "string(a)",
            "bool(b)",
            "'x'",
            "is_present(",
            "round_down(",
            "e",
            "NOW",
            "substring(",
            "sqrt(",
            "power(",
            "1e999",
            "string_to_number(",
        ]
    ),
    max_size=25,
).map("".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, records())
def test_accepted_formulas_never_raise(text: str, record: dict[str, object]) -> None:
    checked = check(text)
    if not checked.ok:
        return
    reference = evaluate_tree(checked.tree, record, None, CONTEXT)
    fast = CompiledFormula(checked, None, CONTEXT).evaluate(record)
    assert (fast.value, fast.evaluable) == (reference.value, reference.evaluable)


HOSTILE = [
    "'); import os; os.system('x'); ('",
    '" + __import__("os") + "',
    "\\n    return 1\\n",
    "K[0]",
    "record",
    "sink",
    "t1",
    "__builtins__",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=3),
    st.sampled_from(["x__import__", "os_system", "k", "t1", "record", "sink", "formula"]),
)
def test_generated_source_never_contains_formula_text(pieces: list[str], name: str) -> None:
    from calcformula.evaluator.codegen import generate

    literal = "'" + "".join(pieces).replace("\\", "\\\\").replace("'", "\\'") + "'"
    text = f"if string({name}) = {literal} then {literal} + string({name}) else 'ok'"
    checked = check(text)
    assert checked.ok, checked.diagnostics
    function = generate(checked, None, CONTEXT)
    source = function.__source__  # type: ignore[attr-defined]
    # Only a fixed vocabulary: Python keywords, the parameters, the constants table, its
    # entries bound to locals (`k3`) and temporaries. Formula text (names, strings) can never
    # appear, quoted or not.
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
    allowed = {
        "def",
        "build",
        "formula",
        "record",
        "sink",
        "K",
        "None",
        "True",
        "False",
        "is",
        "not",
        "if",
        "elif",
        "else",
        "return",
        "and",
        "or",
        "try",
        "except",
        "adjusted",
    }
    assert {w for w in words if not re.fullmatch(r"[tk][0-9]+", w)} <= allowed, words
    assert "'" not in source and '"' not in source
    value = function({name: "".join(pieces)}, [])
    assert value == "".join(pieces) * 2


def test_a_property_read_twice_is_read_once_but_reported_at_each_reference() -> None:
    # The generated code keeps a value it has read for the later references on the same path;
    # an unreadable value is still reported at each reference that reads it, as the reference
    # evaluator does, and a reference in a branch not taken reads nothing.
    text = "if is_present(n0) then n0 * n0 + n1 else n1 - n1"
    checked = check(text)
    compiled = CompiledFormula(checked, None, CONTEXT)
    for record in ({"n0": "2", "n1": "x"}, {"n0": "x", "n1": "y"}, {"n0": "3", "n1": "1"}):
        reference = evaluate_tree(checked.tree, record, None, CONTEXT)
        assert compiled.evaluate(record) == reference
    twice = evaluate_tree(checked.tree, {"n0": "x", "n1": "y"}, None, CONTEXT).diagnostics
    starts = [text.index("n0"), text.index("n1 - "), text.rindex("n1")]
    assert [d.span.start for d in twice] == starts


def test_a_product_out_of_range_is_blank_with_a_diagnostic_in_both_evaluators() -> None:
    checked = check("a * b")
    compiled = CompiledFormula(checked, None, CONTEXT)
    for record in (
        {"a": "1e999", "b": "1e999"},
        {"a": "-1e-999", "b": "1e-999"},
        {"a": "0", "b": "1e999"},
    ):
        reference = evaluate_tree(checked.tree, record, None, CONTEXT)
        assert compiled.evaluate(record) == reference
    assert evaluate_tree(checked.tree, {"a": "1e999", "b": "1e999"}, None, CONTEXT).diagnostics


def test_codegen_agrees_on_a_deep_formula() -> None:
    text = " + ".join(f"coalesce(a{i % 4}, {i})" for i in range(3000))
    checked = check(text)
    compiled = CompiledFormula(checked, None, CONTEXT)
    record = {"a0": "1", "a1": "", "a2": "2.5", "a3": "x"}
    reference = evaluate_tree(checked.tree, record, None, CONTEXT)
    assert compiled.evaluate(record).value == reference.value


def test_formulas_too_deep_for_generated_code_use_the_reference_evaluator() -> None:
    depth = 120  # beyond Python's 100 indentation levels, within the parser's nesting limit
    text = "".join(f"if n{i % 4} > {i} then " for i in range(depth)) + "1" + " else 0" * depth
    checked = check(text)
    assert checked.ok, checked.diagnostics[:2]
    compiled = CompiledFormula(checked, None, CONTEXT)
    assert not compiled.generated
    for record in ({"n0": "500", "n1": "500", "n2": "500", "n3": "500"}, {"n0": "5"}, {}):
        reference = evaluate_tree(checked.tree, record, None, CONTEXT)
        assert compiled.evaluate(record) == reference


def test_rounding_to_written_decimals_agrees_with_the_reference_at_its_edges() -> None:
    # The compiled formula rounds to decimals written in the formula with one quantize call;
    # where quantize cannot (more digits than the context holds) it falls back to the
    # implementation, and decimals the implementation refuses are never specialised.
    records = ({"n0": "1e990"}, {"n0": "-2.5"}, {"n0": "123.456"}, {"n0": ""}, {"n0": "x"})
    for places in ("0", "2", "100", "2.5", "101", "-1"):
        for rounder in ("round_down", "round_up", "round_nearest"):
            checked = check(f"{rounder}(n0, {places})")
            compiled = CompiledFormula(checked, None, CONTEXT)
            for record in records:
                reference = evaluate_tree(checked.tree, record, None, CONTEXT)
                assert compiled.evaluate(record) == reference, (rounder, places, record)
    checked = check("round_nearest(n0, 100)")
    assert CompiledFormula(checked, None, CONTEXT).evaluate({"n0": "1e990"}).value is not None
