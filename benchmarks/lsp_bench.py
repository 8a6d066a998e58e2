"""Language-server latency through a real client (pytest-lsp's client, over stdio).

For formulas of about 200 characters and 5 KB: the time from didChange to the matching
publishDiagnostics, and completion latency, as median and p95 over 200 edits each; then the
server's memory (RSS) with 200 documents open. Targets: p95 under 20 ms for diagnostics and
30 ms for completion on the 5 KB formula; under 150 MB with 200 documents.

Run: python benchmarks/lsp_bench.py [--edits N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

ROOT = Path(__file__).parent.parent


def formula(size: int) -> str:
    terms: list[str] = []
    i = 0
    while len(" + ".join(terms)) < size - 60:
        terms.append(f"coalesce(amount_{i}, 0) * {i % 7 + 1}")
        i += 1
    return f"if is_present(string(dealstage)) then {' + '.join(terms)} else 0"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def measure(client: LanguageClient, size: int, edits: int) -> tuple[list[float], list[float]]:
    uri = f"file:///tmp/bench-{size}.calc"
    text = formula(size)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="calcformula", version=1, text=text
            )
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    diagnostics, completions = [], []
    for version in range(2, edits + 2):
        # Type one character at the end, then delete it: a realistic keystroke.
        new_text = text + " " if version % 2 == 0 else text
        sent = time.perf_counter()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=new_text)],
            )
        )
        while True:
            params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            if params.uri == uri and params.version == version:
                break
        diagnostics.append((time.perf_counter() - sent) * 1000)
        await asyncio.sleep(0.1)  # the next keystroke after a pause
        start = time.perf_counter()
        await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=0, character=len(new_text)),
            )
        )
        completions.append((time.perf_counter() - start) * 1000)
    return diagnostics, completions


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    edits = int(sys.argv[sys.argv.index("--edits") + 1]) if "--edits" in sys.argv else 200
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "calcformula", "lsp")
    await client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    print(f"{edits} edits per size; milliseconds")
    print(
        f"{'formula':>10} {'diag median':>12} {'diag p95':>9} {'compl median':>13} "
        f"{'compl p95':>10}"
    )
    for size in (200, 5000):
        diagnostics, completions = await measure(client, size, edits)
        print(
            f"{size:>9}c {statistics.median(diagnostics):12.2f} "
            f"{percentile(diagnostics, 0.95):9.2f} {statistics.median(completions):13.2f} "
            f"{percentile(completions, 0.95):10.2f}"
        )
    pid = client._server.pid  # type: ignore[union-attr]
    before = rss_mb(pid)
    for number in range(200):
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=f"file:///tmp/open-{number}.calc",
                    language_id="calcformula",
                    version=1,
                    text=formula(1000) + f" + {number}",
                )
            )
        )
    await asyncio.sleep(3)
    print(
        f"server memory: {before:.0f} MB before, {rss_mb(pid):.0f} MB with 200 more "
        f"documents open (target: under 150 MB)"
    )
    await client.shutdown_session()
    await client.stop()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    asyncio.run(main())
