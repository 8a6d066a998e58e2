"""Evaluation benchmark: records per second for corpus formulas over generated records.

For each formula: the reference tree-walker, the compiled closures (`evaluate`, with
diagnostics, and `value`, the bare value) and a hand-written Python function computing the
same result with the same blank rules, measured in the same run. Also check throughput.

Run: python benchmarks/eval_bench.py [--quick]
"""

from __future__ import annotations

import functools
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from calcformula import check
from calcformula.evaluator import CompiledFormula, EvalContext, evaluate_tree
from calcformula.nodes import Node

Record = dict[str, object]


def number(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def home_currency(record: Record) -> object:
    rate = number(record.get("hs_exchange_rate"))
    amount = number(record.get("amount"))
    if rate is not None:
        return None if amount is None else amount * rate
    return amount


def score(record: Record) -> object:
    total = Decimal(0)
    for name in (
        "org_type_score",
        "geography_score",
        "annual_revenue_score",
        "produces_content_score",
    ):
        value = number(record.get(name))
        if value is None:
            return None
        total += value
    gambling = number(record.get("gambling_score"))
    return total + (gambling if gambling is not None else Decimal(0))


def tier(record: Record) -> object:
    flag = number(record.get("lv_anti_icp_flag_num"))
    if (flag if flag is not None else Decimal(0)) == 1:
        return "D"
    fit = number(record.get("lv_icp_fit_score"))
    if fit is None:
        return None
    for threshold, label in ((70, "A"), (40, "B"), (15, "C")):
        if fit >= threshold:
            return label
    return "Unscored"


CASES: list[tuple[str, str, Callable[[Record], object]]] = [
    (
        "home currency",
        "if is_present(hs_exchange_rate) then (amount * hs_exchange_rate) else amount",
        home_currency,
    ),
    (
        "guarded score",
        "org_type_score + geography_score + annual_revenue_score + produces_content_score"
        " + coalesce(gambling_score, 0)",
        score,
    ),
    (
        "tier ladder",
        'if coalesce(lv_anti_icp_flag_num, 0) = 1 then "D" elseif lv_icp_fit_score >= 70 then "A"'
        ' elseif lv_icp_fit_score >= 40 then "B" elseif lv_icp_fit_score >= 15 then "C"'
        ' else "Unscored"',
        tier,
    ),
]


def records(count: int) -> list[Record]:
    generator = random.Random(7)

    def maybe(value: str) -> str:
        return "" if generator.random() < 0.1 else value

    return [
        {
            "amount": maybe(f"{generator.randint(1, 100000)}.{generator.randint(0, 99):02d}"),
            "hs_exchange_rate": maybe(str(generator.choice(["1.1", "0.9", "1", ""]))),
            **{
                name: maybe(str(generator.randint(0, 30)))
                for name in (
                    "org_type_score",
                    "geography_score",
                    "annual_revenue_score",
                    "produces_content_score",
                    "gambling_score",
                    "lv_icp_fit_score",
                )
            },
            "lv_anti_icp_flag_num": maybe(generator.choice(["0", "1", "0", "0"])),
        }
        for _ in range(count)
    ]


def _walk(tree: Node, context: EvalContext, record: Record) -> object:
    return evaluate_tree(tree, record, None, context)


def rate(function: Callable[[Record], object], data: list[Record]) -> float:
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for record in data:
            function(record)
        best = max(best, len(data) / (time.perf_counter() - start))
    return best


def main() -> None:
    count = 20_000 if "--quick" in sys.argv else 100_000
    data = records(count)
    context = EvalContext(now_ms=0)
    print(f"{count} records per formula; rates in records/second (best of 3)")
    print(
        f"{'formula':14} {'hand-written':>12} {'compiled':>10} {'+diagnostics':>12} "
        f"{'tree-walker':>11} {'compiled/hand':>13} {'walker/compiled':>15}"
    )
    for name, text, hand in CASES:
        checked = check(text)
        assert checked.ok, checked.diagnostics
        compiled = CompiledFormula(checked, None, context)
        for record in data[:2000]:  # same answers before timing anything
            expected = hand(record)
            assert compiled.value(record) == expected, (record, expected)
        hand_rate = rate(hand, data)
        value_rate = rate(compiled.value, data)
        full_rate = rate(compiled.evaluate, data)
        walker_rate = rate(functools.partial(_walk, checked.tree, context), data)
        print(
            f"{name:14} {hand_rate:12.0f} {value_rate:10.0f} {full_rate:12.0f} "
            f"{walker_rate:11.0f} {hand_rate / value_rate:12.2f}x "
            f"{value_rate / walker_rate:14.2f}x"
        )
    texts = [text for _, text, _ in CASES] * 200
    start = time.perf_counter()
    for text in texts:
        check(text)
    print(
        f"check: {len(texts) / (time.perf_counter() - start):.0f} formulas/second "
        f"(parse + types + lints)"
    )
    print(
        "compiled/hand: how many times slower the compiled path is than hand-written Python "
        "(target: at most 2x); walker/compiled: how much faster compiled is than the walker"
    )


if __name__ == "__main__":
    main()
