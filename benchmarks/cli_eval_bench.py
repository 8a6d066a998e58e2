"""`calcformula eval` end to end over a 1,000,000-row CSV of 10 columns, against the same job
as a hand-written Python script using the csv module, in the same run. All stream; the peak
memory of each process is reported too. calcformula runs twice: with the default engine
(`auto`, which gives a file this large to DuckDB) and with `--engine python`.

Run: python benchmarks/cli_eval_bench.py [--rows N]
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMULA = (
    "if is_present(hs_exchange_rate) then round_nearest(amount * hs_exchange_rate, 2) else amount"
)

HAND_WRITTEN = r"""
import csv, sys
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP

def number(text):
    if text == "":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None

with open(sys.argv[1], newline="") as source, open(sys.argv[2], "w") as target:
    reader = csv.reader(source)
    header = next(reader)
    amount_at, rate_at, id_at = header.index("amount"), header.index("hs_exchange_rate"), 0
    target.write("id,value\n")
    for row in reader:
        rate, amount = number(row[rate_at]), number(row[amount_at])
        if rate is not None:
            value = None if amount is None else (amount * rate).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP)
        else:
            value = amount
        text = "" if value is None else format(value.normalize(), "f")
        target.write(f"{row[id_at]},{text}\n")
"""


def generate(path: Path, rows: int) -> None:
    rng = random.Random(1)
    with path.open("w") as stream:
        stream.write("Record ID,amount,hs_exchange_rate,dealname,dealstage,c5,c6,c7,c8,c9\n")
        for number in range(rows):
            amount = "" if rng.random() < 0.05 else f"{rng.randint(1, 99999)}.{rng.randint(0, 99)}"
            rate = rng.choice(["", "1.1", "0.92", "1"])
            stream.write(f"{number},{amount},{rate},Deal {number},closedwon,a,b,c,d,e\n")


def timed(command: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024


def main() -> None:
    rows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "records.csv"
        generate(data, rows)
        script = Path(folder) / "hand.py"
        script.write_text(HAND_WRITTEN)
        hand_out = Path(folder) / "hand.csv"
        hand_time, hand_mem = timed([sys.executable, str(script), str(data), str(hand_out)])
        results = {}
        for engine in ("auto", "python"):
            tool_out = Path(folder) / f"tool-{engine}.csv"
            elapsed, memory = timed(
                [
                    sys.executable,
                    "-m",
                    "calcformula",
                    "eval",
                    "--expr",
                    FORMULA,
                    "--records",
                    str(data),
                    "--format",
                    "csv",
                    "--output",
                    str(tool_out),
                    "--engine",
                    engine,
                ]
            )
            same = hand_out.read_text().splitlines()[1:] == tool_out.read_text().splitlines()[1:]
            results[engine] = (elapsed, memory, same)
        size = data.stat().st_size / 1e6
        print(f"{rows} rows, {size:.0f} MB CSV; formula: {FORMULA}")
        print(
            f"hand-written csv script:          {hand_time:6.2f} s  {rows / hand_time:9.0f} rows/s"
            f"  peak {hand_mem:.0f} MB"
        )
        for engine, (elapsed, memory, same) in results.items():
            print(
                f"calcformula eval --engine {engine:6}: {elapsed:6.2f} s  {rows / elapsed:9.0f} "
                f"rows/s  ratio {elapsed / hand_time:.2f}x (target: at most 1x)  "
                f"same output: {same}  peak so far {memory:.0f} MB"
            )


if __name__ == "__main__":
    main()
