"""Error-recovery benchmark: how checking time grows with the size of broken input.

Each shape is checked at n = 1k, 10k, 100k and 1M repetitions; the table shows the seconds
and the ratio to the previous size. Linear recovery shows a ratio near 10 for each tenfold
step (quadratic recovery would show 100: before the fix 30,000 unclosed `(` took 16 s).

Run: python benchmarks/recovery_bench.py [--quick]   (--quick stops at 100k)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from calcformula import check, parser

SHAPES: dict[str, Callable[[int], str]] = {
    "unclosed (": lambda n: "(" * n + "amount",
    "unary -": lambda n: "-" * n + "amount",
    "not": lambda n: "not " * n + "true",
    "if a then": lambda n: "if a then " * n + "b",
    "a+a+…": lambda n: "+".join(["a"] * n),
}


def measure(text: str) -> tuple[float, int]:
    started = time.perf_counter()
    result = check(text)
    return time.perf_counter() - started, len(result.diagnostics)


def main() -> None:
    # At 1M most shapes are past the formula size limit (CF003, refused unparsed); the limit
    # is lifted here so that the parser's own growth is what is measured.
    parser.MAX_FORMULA = 10**9
    sizes = (
        [1_000, 10_000, 100_000] if "--quick" in sys.argv else [1_000, 10_000, 100_000, 1_000_000]
    )
    print(f"{'shape':<12} {'n':>9} {'seconds':>9} {'ratio':>7} {'diagnostics':>12}")
    for name, make in SHAPES.items():
        previous: float | None = None
        for n in sizes:
            seconds, count = measure(make(n))
            ratio = f"{seconds / previous:.1f}" if previous else ""
            print(f"{name:<12} {n:>9,} {seconds:>9.3f} {ratio:>7} {count:>12}")
            previous = seconds


if __name__ == "__main__":
    main()
