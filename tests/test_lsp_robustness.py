"""Hypothesis drives random edit sequences through a real LSP client; the server must keep
answering (one server process for the whole test, talked to over stdio)."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

T = TypeVar("T")
PIECES = [
    "a",
    "1",
    " ",
    "+",
    "*",
    "(",
    ")",
    ",",
    "'",
    '"',
    "if ",
    " then ",
    " else ",
    "endif",
    "max(",
    "string(",
    "\n",
    "🙂",
    "\x00",
    "é",
    "round_down(",
    "=",
    "<",
]


class Session:
    """A client and server on a background event loop, driven from synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client: LanguageClient = self.run(self._start())
        self.version = 0

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start(self) -> LanguageClient:
        client = make_test_lsp_client()
        await client.start_io(sys.executable, "-m", "calcformula", "lsp")
        await client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
        )
        return client

    def close(self) -> None:
        async def stop() -> None:
            await self.client.shutdown_session()
            await self.client.stop()  # type: ignore[no-untyped-call]

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    current = Session()
    yield current
    current.close()


edits = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 40),
        st.integers(0, 3),
        st.integers(0, 60),
        st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
    ),
    max_size=8,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.sampled_from(PIECES), max_size=20).map("".join),
    edits,
    st.integers(0, 5),
    st.integers(0, 50),
)
def test_random_edits_never_stop_the_server(
    session: Session,
    start: str,
    changes: list[tuple[int, int, int, int, str]],
    line: int,
    character: int,
) -> None:
    session.version += 1
    uri = f"file:///tmp/fuzz-{session.version}.calc"
    client = session.client

    async def scenario() -> None:
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="calcformula", version=1, text=start
                )
            )
        )
        for number, (l1, c1, l2, c2, text) in enumerate(changes, 2):
            first, second = (l1, c1), (l1 + l2, c2)
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=number),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(
                                start=types.Position(line=first[0], character=first[1]),
                                end=types.Position(line=second[0], character=second[1]),
                            ),
                            text=text,
                        )
                    ],
                )
            )
        document = types.TextDocumentIdentifier(uri=uri)
        position = types.Position(line=line, character=character)
        requests = [
            client.text_document_hover_async(
                types.HoverParams(text_document=document, position=position)
            ),
            client.text_document_completion_async(
                types.CompletionParams(text_document=document, position=position)
            ),
            client.text_document_signature_help_async(
                types.SignatureHelpParams(text_document=document, position=position)
            ),
            client.text_document_semantic_tokens_full_async(
                types.SemanticTokensParams(text_document=document)
            ),
            client.text_document_folding_range_async(
                types.FoldingRangeParams(text_document=document)
            ),
            client.text_document_formatting_async(
                types.DocumentFormattingParams(
                    text_document=document,
                    options=types.FormattingOptions(tab_size=2, insert_spaces=True),
                )
            ),
        ]
        for request in requests:
            await asyncio.wait_for(request, timeout=20)  # an answer, not an error
        client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=document))

    session.run(scenario())


class RawServer:
    """The server spoken to in raw JSON-RPC, to send what no typed client would."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "calcformula", "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.next_id = 0

    def send(self, method: str, params: object, request: bool = True) -> int | None:
        message: dict[str, object] = {"jsonrpc": "2.0", "method": method, "params": params}
        ident = None
        if request:
            self.next_id += 1
            ident = message["id"] = self.next_id
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.process.stdin.flush()
        return ident

    def message(self, timeout: float = 20) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, "the server did not answer in time"
        length = 0
        while line := self.process.stdout.readline().strip():
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return dict(json.loads(self.process.stdout.read(length)))

    def answer(self, ident: int) -> dict[str, Any]:
        while True:
            message = self.message()
            if message.get("id") == ident and "method" not in message:
                return message


def test_unknown_methods_and_malformed_params_are_survived() -> None:
    server = RawServer()
    try:
        ident = server.send("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        assert ident is not None and "result" in server.answer(ident)
        server.send("initialized", {}, request=False)
        unknown = server.send("calcformula/nope", {})
        assert unknown is not None and "error" in server.answer(unknown)
        # A request whose params do not parse gets an error answer with its id.
        bad = server.send("textDocument/hover", {"textDocument": 5})
        assert bad is not None
        assert server.answer(bad)["error"]["code"] == -32602
        server.send(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": "file:///tmp/after.calc",
                    "languageId": "calcformula",
                    "version": 1,
                    "text": "max(1, 2)",
                }
            },
            request=False,
        )
        server.send(
            "textDocument/didChange",
            {
                "textDocument": {"uri": "file:///nowhere", "version": 2},
                "contentChanges": [{"text": "x"}],
            },
            request=False,
        )
        hover = server.send(
            "textDocument/hover",
            {
                "textDocument": {"uri": "file:///tmp/after.calc"},
                "position": {"line": 0, "character": 1},
            },
        )
        assert hover is not None
        answer = server.answer(hover)
        assert "max(" in json.dumps(answer["result"])  # still answering properly
    finally:
        server.process.kill()
        server.process.wait()
