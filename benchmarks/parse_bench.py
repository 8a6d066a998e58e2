"""Parse benchmark: formulas per second, with ratios against baselines measured in the same run.

Baselines: Lark's own LALR parse of the same text into Lark trees (the cost our layer adds is
our lexer, recovery bookkeeping and typed nodes), and Python's `ast.parse` of an equivalent
Python expression. Also measures a cold process that imports calcformula and parses once.

Run: python benchmarks/parse_bench.py [--quick]
"""

from __future__ import annotations

import ast
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from calcformula import parse
from calcformula.grammar import lark_parser_plain
from calcformula.nodes import (
    Binary,
    BinaryOp,
    Boolean,
    Call,
    Constant,
    If,
    Node,
    Number,
    Property,
    String,
    Unary,
    UnaryOp,
    precedence,
)

ROOT = Path(__file__).parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "field-formulas.jsonl"
EXAMPLES = ROOT / "examples" / "formulas"


def to_python(node: Node) -> str:
    """An equivalent Python expression (same shape and size), for the ast.parse baseline."""
    if isinstance(node, Number):
        return str(node.value)
    if isinstance(node, String):
        return repr(node.value)
    if isinstance(node, Boolean):
        return "True" if node.value else "False"
    if isinstance(node, Constant):
        return node.name.value.upper()
    if isinstance(node, Property):
        return node.name if node.kind.value == "number" else f"{node.kind.value}_({node.name})"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(to_python(a) for a in node.args)})"
    if isinstance(node, Unary):
        return f"({'not ' if node.op is UnaryOp.NOT else '-'}{to_python(node.operand)})"
    if isinstance(node, Binary):
        op = {BinaryOp.EQ: "==", BinaryOp.XOR: "^"}.get(node.op, node.op.value)
        left = to_python(node.left)
        if isinstance(node.left, Binary) and precedence(node.left.op) < precedence(node.op):
            left = f"({left})"
        right = to_python(node.right)
        if isinstance(node.right, Binary | If | Unary):
            right = f"({right})"
        return f"{left} {op} {right}"
    assert isinstance(node, If)
    text = to_python(node.else_branch) if node.else_branch is not None else "None"
    for branch in reversed(node.branches):
        text = f"({to_python(branch.value)} if {to_python(branch.condition)} else {text})"
    return text


def synthetic(size: int) -> str:
    """A realistic formula of about `size` characters: guarded sums inside an if ladder."""
    terms: list[str] = []
    i = 0
    while len(" + ".join(terms)) < size * 0.6:
        terms.append(f"coalesce(score_{i}, 0) * {i % 7 + 1}")
        i += 1
    body = " + ".join(terms)
    text = f"if is_present(string(owner_id)) and total_{i} >= 10 then {body} else 0"
    return text[: max(size, 40)] if len(text) > size * 1.5 else text


def rate(function: Callable[[str], object], texts: list[str], seconds: float) -> float:
    """Formulas per second, best of five rounds (less noise on a shared machine)."""
    results = []
    for _ in range(5):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds / 5
        while time.perf_counter() < deadline:
            for text in texts:
                function(text)
            count += len(texts)
        results.append(count / (time.perf_counter() - start))
    return max(results)


def cold_start() -> float:
    code = "import calcformula; calcformula.parse('if a > 1 then b else c')"
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    quick = "--quick" in sys.argv
    seconds = 0.5 if quick else 2.0
    formulas: list[str] = []
    if CORPUS.is_file():
        formulas = [json.loads(line)["formula"] for line in CORPUS.read_text().splitlines()]
        formulas = [f for f in formulas if parse(f).ok]
    else:
        formulas = [p.read_text() for p in sorted(EXAMPLES.glob("*.calc"))]
    lark = lark_parser_plain()
    sets = {"corpus": formulas}
    for size in (100, 200, 1000, 10_000):
        sets[f"synthetic {size}"] = [synthetic(size)]
    print(
        f"{'set':16} {'chars':>7} {'calcformula/s':>14} {'lark/s':>10} {'ast/s':>10} "
        f"{'ms/formula':>11} {'vs lark':>8} {'vs ast':>7}"
    )
    for name, texts in sets.items():
        python = [to_python(parse(t).tree) for t in texts]
        ours = rate(parse, texts, seconds)
        bare = rate(lark.parse, texts, seconds)
        baseline = rate(ast.parse, python, seconds)
        chars = sum(len(t) for t in texts) // len(texts)
        print(
            f"{name:16} {chars:7} {ours:14.0f} {bare:10.0f} {baseline:10.0f} "
            f"{1000 / ours:11.3f} {bare / ours:7.2f}x {baseline / ours:6.2f}x"
        )
    print("(vs lark / vs ast: how many times slower calcformula is than that baseline)")
    print(f"cold process: import calcformula and parse one formula: {cold_start():.0f} ms")


if __name__ == "__main__":
    main()
