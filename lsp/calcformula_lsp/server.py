"""The language server: diagnostics, completion, hover, signature help, formatting, quick
fixes, semantic tokens, folding and go-to-definition for `.calc` files and the formulas inside
`calcformula.yaml`. Every answer comes from the calcformula library; positions are converted
with the negotiated encoding (UTF-16 unless the client offers another).

The server reads its input itself (`serve`) rather than through pygls's loop, so that a client
that breaks the protocol gets an error answer instead of a dead or stuck server: a bad
`Content-Length` (missing, not a number, past `MAX_MESSAGE`, or longer than what arrives),
a body that is not JSON, or parameters that do not fit the method. A client that dies
without `exit` (its `processId` gone) ends the server within `PARENT_POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from calcformula import __version__, codes
from calcformula.diagnostics import Diagnostic, Severity
from calcformula.formatter import FormatError, format_tree
from calcformula.functions import REGISTRY, Function, lookup
from calcformula.lexer import Token, tokenize
from calcformula.nodes import Call, If, Node, Property, PropertyKind, walk
from calcformula.parser import MAX_FORMULA, VALUE_STARTS, expected_terminals
from calcformula.render import clip, redact
from calcformula.span import Span
from calcformula.tokens import KEYWORDS_AFTER_VALUE
from calcformula.trace import Trace, trace
from calcformula.values import format_value
from calcformula_lsp.analysis import Analysis, Region, Settings, Workspace

log = logging.getLogger("calcformula.lsp")
DEBOUNCE_SECONDS = 0.08
MAX_DOCUMENT = MAX_FORMULA  # characters; larger documents get one diagnostic, no analysis
MAX_MESSAGE = 64 * 1024 * 1024  # bytes of one JSON-RPC message (a 20 MB document fits)
MAX_HEADER = 8 * 1024  # bytes of a message's header block
BODY_WAIT_SECONDS = 5.0  # silence while a body is shorter than its Content-Length
PARENT_POLL_SECONDS = 3.0
_LENGTH = re.compile(rb"content-length:", re.IGNORECASE)
TOKEN_TYPES = ["keyword", "function", "variable", "number", "string", "operator", "type"]
TOKEN_MODIFIERS = ["number", "text", "boolean", "timestamp", "readonly"]
_KIND_MODIFIER = {
    PropertyKind.NUMBER: 1,
    PropertyKind.STRING: 2,
    PropertyKind.BOOL: 4,
    PropertyKind.TIMESTAMP: 8,
}
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


class CalcformulaServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("calcformula", __version__)
        self.calc_workspace = Workspace(None)
        self.versions: dict[str, int] = {}
        self.last_change: dict[str, float] = {}
        self.cache: dict[str, tuple[tuple[int | None, int, int], Analysis]] = {}

    def analysis(self, uri: str) -> tuple[TextDocument, Analysis]:
        """The document's analysis, computed once per version (and workspace state)."""
        document = self.workspace.get_text_document(uri)
        key = (document.version, self.calc_workspace.generation, hash(document.source))
        cached = self.cache.get(uri)
        if cached is not None and cached[0] == key:
            return document, cached[1]
        if len(document.source) > MAX_DOCUMENT:
            analysis = _too_large(document.source)
        else:
            path = Path(to_fs_path(uri) or uri)
            analysis = self.calc_workspace.analyze(path, document.source)
        self.cache[uri] = (key, analysis)
        return document, analysis

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve over standard input and output until `exit`, the end of input or the death of
        the client's process."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(serve(self, stdin or sys.stdin.buffer))
        except BrokenPipeError:
            log.error("the client closed the connection; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    def send_error(self, ident: Any, code: int, message: str) -> None:
        """A JSON-RPC error answer (id null when the request's id could not be read)."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}
        ).encode()
        writer = self.protocol.writer
        if writer is not None:
            writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _too_large(text: str) -> Analysis:
    newline = text.find("\n", 0, MAX_DOCUMENT)
    end = newline if newline != -1 else min(len(text), 200)
    span = Span(0, end, 1, 1, 1, end + 1)
    diagnostic = codes.FORMULA_TOO_LARGE.at(span, size=f"{len(text):,}", limit=f"{MAX_DOCUMENT:,}")
    return Analysis(regions=[], diagnostics=[(span, diagnostic)])


PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


class _Input:
    """Standard input as it arrives, read by a thread (reads block) into a buffer."""

    def __init__(self, stream: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.arrived = asyncio.Event()
        self.loop = loop
        self.fd = stream.fileno()
        threading.Thread(target=self._read, daemon=True, name="calcformula-stdin").start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except OSError:
                chunk = b""
            self.loop.call_soon_threadsafe(self._feed, chunk)
            if not chunk:
                return

    def _feed(self, chunk: bytes) -> None:
        if chunk:
            self.buffer += chunk
        else:
            self.eof = True
        self.arrived.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Until more input (or its end) arrives; False when `timeout` passed first."""
        self.arrived.clear()
        if self.eof:
            return True
        try:
            await asyncio.wait_for(self.arrived.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def serve(ls: CalcformulaServer, stdin: Any) -> None:
    """Read framed JSON-RPC messages and hand them to pygls; answer framing errors."""
    loop = asyncio.get_running_loop()
    source = _Input(stdin, loop)
    watcher = loop.create_task(_watch_client(ls, source))
    stop = ls._stop_event
    try:
        while stop is None or not stop.is_set():
            buffer = source.buffer
            end = buffer.find(b"\r\n\r\n")
            if end == -1:
                if len(buffer) > MAX_HEADER:
                    _resync(ls, source, 1, "a message header is longer than 8 KB")
                    continue
                if source.eof:
                    return
                await source.wait()
                continue
            length, problem = _content_length(bytes(buffer[:end]))
            if problem is not None:
                _resync(ls, source, end + 4, problem)
                continue
            assert length is not None
            start = end + 4
            while len(source.buffer) < start + length and not source.eof:
                if not await source.wait(BODY_WAIT_SECONDS):
                    break
            if len(source.buffer) < start + length:
                _resync(
                    ls,
                    source,
                    start,
                    f"the message ended after {len(source.buffer) - start} of the "
                    f"{length} bytes its Content-Length announced",
                )
                if source.eof:
                    return
                continue
            body = bytes(source.buffer[start : start + length])
            if _dispatch(ls, body):
                del source.buffer[: start + length]
            else:
                # Not JSON: the length was probably wrong; look for the next header inside.
                _resync(ls, source, start, "the message body is not JSON")
    finally:
        watcher.cancel()


def _content_length(header: bytes) -> tuple[int | None, str | None]:
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() != b"content-length":
            continue
        text = value.strip().decode("ascii", "replace")
        if not text.isascii() or not text.isdigit():
            return None, f"Content-Length {clip(text, 40)!r} is not a number of bytes"
        if int(text) > MAX_MESSAGE:
            return None, f"Content-Length {clip(text, 40)} is over the limit of {MAX_MESSAGE}"
        return int(text), None
    return None, "a message header has no Content-Length"


def _resync(ls: CalcformulaServer, source: _Input, skip: int, problem: str) -> None:
    """Answer a framing error and drop input up to the next `Content-Length` header."""
    ls.send_error(None, PARSE_ERROR, problem)
    found = _LENGTH.search(source.buffer, skip)
    if found is None:
        # Keep a tail that may be the start of a header cut in the middle.
        del source.buffer[: max(skip, len(source.buffer) - 16)]
    else:
        del source.buffer[: found.start()]


def _dispatch(ls: CalcformulaServer, body: bytes) -> bool:
    """Hand one message to pygls; False when the body is not JSON at all."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict):
        ls.send_error(None, INVALID_REQUEST, "a message must be a JSON object")
        return True
    ident = data.get("id") if isinstance(data.get("id"), int | str) else None
    try:
        message = ls.protocol.structure_message(data)
    except Exception as error:  # pygls says which: InvalidParams, or InternalError
        if ident is not None and "method" in data:
            ls.send_error(ident, INVALID_PARAMS, f"invalid parameters: {_reason(error)}")
        else:
            ls.send_error(None, INVALID_REQUEST, f"invalid message: {_reason(error)}")
        return True
    try:
        ls.protocol.handle_message(message)
    except Exception as error:  # handlers' own errors are answered by pygls
        log.exception("unable to handle a message")
        if ident is not None:
            ls.send_error(ident, -32603, f"internal error: {type(error).__name__}")
    return True


def _reason(error: BaseException) -> str:
    """The first validation failure under pygls's error (cattrs groups them)."""
    cause: BaseException = error.__cause__ or error
    while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        cause = cause.exceptions[0]
    return clip(str(cause) or type(cause).__name__, 300)


async def _watch_client(ls: CalcformulaServer, source: _Input) -> None:
    """End the server when the client process named in `initialize` has died (editors that
    crash never send `exit`, and an orphaned server would run forever)."""
    while True:
        await asyncio.sleep(PARENT_POLL_SECONDS)
        pid = ls.process_id
        if pid is None or _alive(pid):
            continue
        log.warning("the client (process %s) has exited; shutting down", pid)
        source.eof = True  # the serve loop ends as at the end of its input
        source.arrived.set()
        return


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we can test
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


server = CalcformulaServer()


def position_at(document: TextDocument, offset: int) -> types.Position:
    """The client position (negotiated encoding) of a code-point offset; clamps, never fails
    (pygls's own conversion fails on an empty document)."""
    text = document.source
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return types.Position(line=line, character=_units(document, text[line_start:offset]))


def _units(document: TextDocument, text: str) -> int:
    """Length of `text` in the negotiated encoding's code units (computed in C)."""
    encoding = document.position_codec.encoding
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def offset_at(document: TextDocument, position: types.Position) -> int:
    """The code-point offset of a client position; positions past a line or the text clamp."""
    text = document.source
    line_start = 0
    for _ in range(position.line):
        found = text.find("\n", line_start)
        if found == -1:
            return len(text)
        line_start = found + 1
    line_end = text.find("\n", line_start)
    if line_end == -1:
        line_end = len(text)
    units = 0
    offset = line_start
    while offset < line_end and units < position.character:
        units += _units(document, text[offset])
        offset += 1
    return offset


def _range(document: TextDocument, start: int, end: int) -> types.Range:
    return types.Range(
        start=position_at(document, start),
        end=position_at(document, max(start, end)),
    )


def _lsp_diagnostic(
    document: TextDocument, span: Span, diagnostic: Diagnostic, uri: str
) -> types.Diagnostic:
    return types.Diagnostic(
        range=_range(document, span.start, span.end),
        message=redact(clip(diagnostic.message)),
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        source="calcformula",
        code_description=types.CodeDescription(
            href="https://github.com/calcformula/calcformula/blob/main/docs/diagnostics.md#"
            + diagnostic.code.lower()
        ),
        related_information=[
            types.DiagnosticRelatedInformation(
                location=types.Location(
                    uri=uri, range=_range(document, related.span.start, related.span.end)
                ),
                message=redact(clip(related.message)),
            )
            for related in diagnostic.related
        ]
        or None,
    )


def publish(ls: CalcformulaServer, uri: str) -> None:
    try:
        document, analysis = ls.analysis(uri)
    except KeyError:
        return
    diagnostics = [_lsp_diagnostic(document, span, d, uri) for span, d in analysis.diagnostics]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=document.version)
    )


@server.feature(types.INITIALIZE)
def initialize(ls: CalcformulaServer, params: types.InitializeParams) -> None:
    root: Path | None = None
    if params.workspace_folders:
        root = Path(to_fs_path(params.workspace_folders[0].uri) or ".")
    elif params.root_uri:
        root = Path(to_fs_path(params.root_uri) or ".")
    ls.calc_workspace = Workspace(root, Settings.from_client(params.initialization_options))


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(
    ls: CalcformulaServer, params: types.DidChangeConfigurationParams
) -> None:
    ls.calc_workspace.settings = Settings.from_client(params.settings)
    ls.calc_workspace.invalidate()
    for uri in list(ls.workspace.text_documents):
        publish(ls, uri)


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(
    ls: CalcformulaServer, params: types.DidChangeWatchedFilesParams
) -> None:
    ls.calc_workspace.invalidate()
    for uri in list(ls.workspace.text_documents):
        publish(ls, uri)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: CalcformulaServer, params: types.DidOpenTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: CalcformulaServer, params: types.DidSaveTextDocumentParams) -> None:
    if Path(to_fs_path(params.text_document.uri) or "").name.startswith("calcformula.y"):
        ls.calc_workspace.invalidate()
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: CalcformulaServer, params: types.DidChangeTextDocumentParams) -> None:
    """Checks at once after a quiet moment; while edits come fast, only the last is checked
    (leading- and trailing-edge debounce)."""
    uri = params.text_document.uri
    version = params.text_document.version
    ls.versions[uri] = version
    now = asyncio.get_running_loop().time()
    quiet = now - ls.last_change.get(uri, float("-inf")) > DEBOUNCE_SECONDS
    ls.last_change[uri] = now
    if quiet:
        publish(ls, uri)
        return
    await asyncio.sleep(DEBOUNCE_SECONDS)
    if ls.versions.get(uri) == version:
        publish(ls, uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: CalcformulaServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.versions.pop(params.text_document.uri, None)
    ls.cache.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
    )


# --- completion --------------------------------------------------------------------------------


def _snippet(function: Function) -> str:
    if not function.known_signature or not function.params:
        return f"{function.name}($0)" if function.known_signature is False else f"{function.name}()"
    parts = [f"${{{i + 1}:{p.name}}}" for i, p in enumerate(function.params) if not p.optional]
    return f"{function.name}({', '.join(parts)})"


def _function_doc(function: Function) -> str:
    lines = [
        f"```\n{function.signature}\n```",
        function.summary,
        f"*Evidence:* {function.evidence.value}. *Blanks:* {function.blanks.value}.",
    ]
    if function.notes:
        lines.append(function.notes)
    for example in function.examples[:2]:
        record = ", ".join(f"{k} = {v!r}" for k, v in example.record)
        lines.append(
            f"`{example.formula}` → `{example.result}`" + (f" (with {record})" if record else "")
        )
    return "\n\n".join(lines)


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["(", ","])
)
def completion(ls: CalcformulaServer, params: types.CompletionParams) -> types.CompletionList:
    document, analysis = ls.analysis(params.text_document.uri)
    offset = offset_at(document, params.position)
    found = analysis.region_at(offset)
    if found is None:
        return types.CompletionList(is_incomplete=False, items=[])
    region, inner = found
    before = region.text[:inner]
    prefix = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", before)
    start = inner - len(prefix.group()) if prefix else inner
    expected = expected_terminals(region.text[:start])
    snippets = _snippets_supported(ls)
    replace = _range(document, region.to_document(start), region.to_document(inner))
    items: list[types.CompletionItem] = []

    def add(
        label: str,
        kind: types.CompletionItemKind,
        insert: str,
        detail: str = "",
        documentation: str = "",
        snippet: bool = False,
        sort: str = "5",
    ) -> None:
        items.append(
            types.CompletionItem(
                label=label,
                kind=kind,
                detail=detail or None,
                documentation=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=documentation
                )
                if documentation
                else None,
                text_edit=types.TextEdit(range=replace, new_text=insert),
                insert_text_format=types.InsertTextFormat.Snippet
                if snippet and snippets
                else types.InsertTextFormat.PlainText,
                sort_text=f"{sort}{label}",
                filter_text=label,
            )
        )

    wrapper = _wrapper_before(region.text[:start])
    wrapper_context = expected == {"NAME"} and wrapper is not None
    # After a complete value another value would be implicit multiplication: valid, but
    # rarely meant, so operators and keywords are offered there. When the typed prefix
    # starts none of those keywords, the names it matches are offered as well (offering
    # nothing would look broken).
    after_value = bool(expected & {"PLUS", "STAR", "AND", "OR", "THEN", "EQ"})
    if after_value:
        typed = prefix.group().lower() if prefix else ""
        keyword_fits = any(
            word.startswith(typed)
            for terminal, word in KEYWORDS_AFTER_VALUE.items()
            if terminal in expected
        )
        if not typed or keyword_fits:
            expected = expected - VALUE_STARTS
    schema = region.schema
    if wrapper_context or expected & (VALUE_STARTS - {"MINUS", "NOT", "MISSING"}):
        # Inside `string(` / `bool(`: only properties of that kind, as bare names;
        # inside `timestamp(`: any property, as a bare name.
        wanted_kind = wrapper if wrapper_context and wrapper is not PropertyKind.TIMESTAMP else None
        if schema is not None:
            for info in schema.properties.values():
                if wanted_kind is not None and info.reads_as is not wanted_kind:
                    continue
                insert = info.name if wrapper_context else info.reference
                where = f", {info.object_name}" if info.object_name else ""
                add(
                    info.name,
                    types.CompletionItemKind.Field,
                    insert,
                    f"{info.label} ({info.type}{where})",
                    f"**{info.label or info.name}**: {info.type} property"
                    + (f" of {info.object_name}" if info.object_name else "")
                    + (f", group {info.group}" if info.group else "")
                    + f"\n\nRead as `{info.reference}`.",
                    sort="1",
                )
    if not wrapper_context and expected & VALUE_STARTS:
        for function in sorted(REGISTRY.values(), key=lambda f: f.name):
            add(
                function.name,
                types.CompletionItemKind.Function,
                _snippet(function) if snippets else function.name + "(",
                function.signature,
                _function_doc(function),
                snippet=True,
                sort="2",
            )
        for word, insert in (
            ("if", "if ${1:condition} then ${2:value} else ${0:value}"),
            ("not", "not "),
            ("true", "true"),
            ("false", "false"),
            ("e", "e"),
            ("NOW", "NOW"),
        ):
            add(
                word,
                types.CompletionItemKind.Keyword,
                insert if snippets else word,
                snippet=word == "if",
                sort="3",
            )
        for word, what in (
            ("string", "text"),
            ("bool", "a checkbox"),
            ("timestamp", "when it last changed"),
        ):
            add(
                f"{word}(…)",
                types.CompletionItemKind.Keyword,
                f"{word}(${{1:property}})" if snippets else f"{word}(",
                f"read a property as {what}",
                snippet=True,
                sort="3",
            )
    for terminal, word in KEYWORDS_AFTER_VALUE.items():
        if terminal in expected:
            add(word, types.CompletionItemKind.Keyword, word, sort="4")
    return types.CompletionList(is_incomplete=False, items=items)


def _snippets_supported(ls: CalcformulaServer) -> bool:
    document = ls.client_capabilities.text_document
    completion = document.completion if document is not None else None
    item = completion.completion_item if completion is not None else None
    return bool(item is not None and item.snippet_support)


def _wrapper_before(text: str) -> PropertyKind | None:
    matched = re.search(r"(string|bool|timestamp)\s*\(\s*$", text, re.IGNORECASE)
    if not matched:
        return None
    return {
        "string": PropertyKind.STRING,
        "bool": PropertyKind.BOOL,
        "timestamp": PropertyKind.TIMESTAMP,
    }[matched.group(1).lower()]


# --- hover, signature help, definition ------------------------------------------------------


def _node_at(region: Region, offset: int) -> Node | None:
    best: Node | None = None
    for node in walk(region.result.tree):
        if node.span.start <= offset <= node.span.end and (
            best is None or node.span.end - node.span.start <= best.span.end - best.span.start
        ):
            best = node
    return best


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: CalcformulaServer, params: types.HoverParams) -> types.Hover | None:
    document, analysis = ls.analysis(params.text_document.uri)
    offset = offset_at(document, params.position)
    found = analysis.region_at(offset)
    if found is None:
        return None
    region, inner = found
    node = _node_at(region, inner)
    if node is None:
        return None
    span = node.span
    text: str
    if isinstance(node, Call) and node.name_span.start <= inner <= node.name_span.end:
        function = lookup(node.name)
        if function is None:
            return None
        text, span = _function_doc(function), node.name_span
    elif isinstance(node, Property):
        info = region.result.property_of(node)
        # What the reference reads, from how it is written (never the checker's ERROR type).
        kind = {
            PropertyKind.NUMBER: "a number",
            PropertyKind.STRING: "text",
            PropertyKind.BOOL: "a boolean",
            PropertyKind.TIMESTAMP: "text (the time it last changed, in epoch ms)",
        }[node.kind]
        unknown = any(
            d.code == "CF203" and d.span.start <= node.name_span.start < d.span.end
            for d in region.result.diagnostics
        )
        if unknown:
            text = f"`{node.name}`: the schema has no property of this name"
        elif info is not None:
            text = (
                f"**{info.label or info.name}** (`{info.name}`)\n\n{info.type} property"
                + (f" of {info.object_name}" if info.object_name else "")
                + (f", group `{info.group}`" if info.group else "")
                + f"\n\nRead here as {kind}."
            )
            if info.options:
                text += "\n\nOptions: " + ", ".join(f"`{o}`" for o in info.options[:12])
        else:
            text = f"`{node.name}`: a property read as {kind}"
    else:
        text = f"`{region.text[span.start : span.end][:60]}`: {region.result.type_of(node).value}"
    text += _sample_value(region, node)
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=redact(text)),
        range=_range(document, region.to_document(span.start), region.to_document(span.end)),
    )


# --- values on the sample record (`samples:` in the manifest) ----------------------------------


def _trace(region: Region) -> Trace | None:
    """The formula's trace on the sample record (None without samples or with errors)."""
    if region.sample is None or not region.result.ok:
        return None
    sample = region.sample
    return trace(region.result, sample.record, region.schema, sample.portal)


def _sample_value(region: Region, node: Node) -> str:
    found = _trace(region)
    step = found.step(node) if found is not None else None
    if found is None or step is None or region.sample is None:
        return ""
    shown = format_value(step.value) if step.evaluated else "(not evaluated)"
    if step.evaluated and (step.reason or "").startswith("not evaluable"):
        shown = "(not evaluable)"
    line = f"\n\nOn sample record {region.sample.record_id}: `{shown}`"
    if step.reason:
        line += f" ({step.reason})"
    if step is found.root:
        line += f"\n\n{found.explanation}"
    return line


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
def inlay_hint(ls: CalcformulaServer, params: types.InlayHintParams) -> list[types.InlayHint]:
    """After each formula, its value on the first sample record; nothing without samples."""
    document, analysis = ls.analysis(params.text_document.uri)
    hints: list[types.InlayHint] = []
    for region in analysis.regions:
        found = _trace(region)
        if found is None:
            continue
        end = position_at(document, region.to_document(len(region.text.rstrip())))
        if not (params.range.start.line <= end.line <= params.range.end.line):
            continue
        shown = format_value(found.value) if found.evaluable else "(not evaluable)"
        hints.append(
            types.InlayHint(
                position=end,
                label=f"= {shown}",
                kind=types.InlayHintKind.Type,
                tooltip=found.explanation,
                padding_left=True,
            )
        )
    return hints


def _open_call(tokens: list[Token]) -> tuple[Function, int] | None:
    depth = 0
    commas = 0
    for index in range(len(tokens) - 1, -1, -1):
        kind = tokens[index].type
        if kind == "RPAR":
            depth += 1
        elif kind == "LPAR":
            if depth == 0:
                if index > 0 and tokens[index - 1].type == "NAME":
                    function = lookup(tokens[index - 1].value)
                    if function is not None:
                        return function, commas
                commas = 0
                continue
            depth -= 1
        elif kind == "COMMA" and depth == 0:
            commas += 1
    return None


@server.feature(
    types.TEXT_DOCUMENT_SIGNATURE_HELP,
    types.SignatureHelpOptions(trigger_characters=["(", ","], retrigger_characters=[","]),
)
def signature_help(
    ls: CalcformulaServer, params: types.SignatureHelpParams
) -> types.SignatureHelp | None:
    document, analysis = ls.analysis(params.text_document.uri)
    offset = offset_at(document, params.position)
    found = analysis.region_at(offset)
    if found is None:
        return None
    region, inner = found
    tokens, _ = tokenize(region.text[:inner])
    call = _open_call(tokens)
    if call is None:
        return None
    function, commas = call
    parameters = [
        types.ParameterInformation(label=f"{p.name}: {p.type.value}", documentation=p.doc or None)
        for p in function.params
    ]
    if function.variadic:
        active = min(commas, len(parameters) - 1)
    else:
        active = min(commas, max(len(parameters) - 1, 0))
    return types.SignatureHelp(
        signatures=[
            types.SignatureInformation(
                label=function.signature,
                parameters=parameters,
                documentation=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=function.summary
                ),
            )
        ],
        active_signature=0,
        active_parameter=active if parameters else None,
    )


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(
    ls: CalcformulaServer, params: types.DefinitionParams
) -> list[types.Location] | None:
    document, analysis = ls.analysis(params.text_document.uri)
    offset = offset_at(document, params.position)
    found = analysis.region_at(offset)
    if found is None:
        return None
    region, inner = found
    node = _node_at(region, inner)
    if not isinstance(node, Property):
        return None
    manifest = ls.calc_workspace.manifest()
    if manifest is not None:
        for prop in manifest.properties:
            if prop.name == node.name and prop.span is not None:
                return [
                    types.Location(
                        uri=manifest.path.resolve().as_uri(),
                        range=types.Range(
                            start=types.Position(line=prop.span.line - 1, character=0),
                            end=types.Position(line=prop.span.line - 1, character=0),
                        ),
                    )
                ]
    for path in ls.calc_workspace.schema_files():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        needle = re.compile(r'"name"\s*:\s*"' + re.escape(node.name) + '"')
        for number, line in enumerate(lines):
            matched = needle.search(line)
            if matched:
                return [
                    types.Location(
                        uri=path.resolve().as_uri(),
                        range=types.Range(
                            start=types.Position(line=number, character=matched.start()),
                            end=types.Position(line=number, character=matched.end()),
                        ),
                    )
                ]
    return None


# --- formatting, quick fixes ----------------------------------------------------------------


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(
    ls: CalcformulaServer, params: types.DocumentFormattingParams
) -> list[types.TextEdit] | None:
    document, analysis = ls.analysis(params.text_document.uri)
    if analysis.manifest is not None or not analysis.regions:
        return None
    result = analysis.regions[0].result.parse
    if not result.ok:
        return None
    try:
        text = format_tree(result.tree, ls.calc_workspace.settings.format_style) + "\n"  # type: ignore[arg-type]
    except FormatError:
        return None
    if text == document.source:
        return []
    return [types.TextEdit(range=_range(document, 0, len(document.source)), new_text=text)]


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
)
def code_action(ls: CalcformulaServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    document, analysis = ls.analysis(params.text_document.uri)
    start = offset_at(document, params.range.start)
    end = offset_at(document, params.range.end)
    actions: list[types.CodeAction] = []
    for span, diagnostic in analysis.diagnostics:
        if not diagnostic.fixes or span.end < start or span.start > end:
            continue
        region = next(
            (
                r
                for r in analysis.regions
                if r.result.diagnostics and diagnostic in r.result.diagnostics
            ),
            None,
        )
        for fix in diagnostic.fixes:
            edits = []
            for edit in fix.edits:
                a, b = edit.span.start, edit.span.end
                if region is not None:
                    a, b = region.to_document(a), region.to_document(b)
                edits.append(types.TextEdit(range=_range(document, a, b), new_text=edit.new_text))
            actions.append(
                types.CodeAction(
                    title=redact(clip(fix.title)),
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[
                        _lsp_diagnostic(document, span, diagnostic, params.text_document.uri)
                    ],
                    edit=types.WorkspaceEdit(changes={params.text_document.uri: edits}),
                    # Editors may apply a preferred fix on their own: never a guess.
                    is_preferred=len(diagnostic.fixes) == 1 and fix.safe,
                )
            )
    return actions


# --- semantic tokens, folding --------------------------------------------------------------

_TOKEN_KIND = {
    "NUMBER": 3,
    "STRING": 4,
    "TRUE": 0,
    "FALSE": 0,
    "E": 0,
    "NOW": 0,
    "TARGET": 0,
    "STRING_WRAPPER": 6,
    "BOOL_WRAPPER": 6,
    "TIMESTAMP_WRAPPER": 6,
}
_OPERATOR_TYPES = {"PLUS", "MINUS", "STAR", "SLASH", "LT", "GT", "LE", "GE", "EQ", "NE"}
_WRAPPER_KIND = {
    "STRING_WRAPPER": PropertyKind.STRING,
    "BOOL_WRAPPER": PropertyKind.BOOL,
    "TIMESTAMP_WRAPPER": PropertyKind.TIMESTAMP,
}


@server.feature(
    types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
    types.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS),
)
def semantic_tokens(
    ls: CalcformulaServer, params: types.SemanticTokensParams
) -> types.SemanticTokens:
    document, analysis = ls.analysis(params.text_document.uri)
    data: list[int] = []
    last_line = last_start = 0
    entries: list[tuple[int, int, int, int]] = []  # start, end (document), type, modifiers
    for region in analysis.regions:
        tokens = [t for t in region.result.parse.tokens if not t.synthetic]
        for index, token in enumerate(tokens):
            kind = token.type
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            previous = tokens[index - 2] if index >= 2 else None
            if kind == "NAME":
                if following is not None and following.type == "LPAR":
                    token_type, modifiers = 1, 0
                else:
                    wrapper = (
                        previous.type
                        if previous is not None and tokens[index - 1].type == "LPAR"
                        else ""
                    )
                    token_type = 2
                    modifiers = _KIND_MODIFIER[_WRAPPER_KIND.get(wrapper, PropertyKind.NUMBER)]
            elif kind in _TOKEN_KIND:
                token_type, modifiers = _TOKEN_KIND[kind], 16 if kind in ("E", "NOW") else 0
            elif kind in _OPERATOR_TYPES:
                token_type, modifiers = 5, 0
            elif kind in (
                "IF",
                "THEN",
                "ELSE",
                "ELSEIF",
                "ENDIF",
                "AND",
                "OR",
                "XOR",
                "NOT",
                "EQUALS",
            ):
                token_type, modifiers = 0, 0
            else:
                continue
            start = region.to_document(token.span.start)
            end = region.to_document(token.span.end)
            entries.append((start, end, token_type, modifiers))
    entries.sort()
    for start, end, token_type, modifiers in entries:
        first = position_at(document, start)
        last = position_at(document, end)
        if first.line != last.line:
            continue  # a token over several lines (a multi-line string) is not highlighted
        delta_line = first.line - last_line
        delta_start = first.character - last_start if delta_line == 0 else first.character
        data.extend(
            [delta_line, delta_start, last.character - first.character, token_type, modifiers]
        )
        last_line, last_start = first.line, first.character
    return types.SemanticTokens(data=data)


@server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
def folding_range(
    ls: CalcformulaServer, params: types.FoldingRangeParams
) -> list[types.FoldingRange]:
    document, analysis = ls.analysis(params.text_document.uri)
    ranges: list[types.FoldingRange] = []
    for region in analysis.regions:
        for node in walk(region.result.tree):
            if not isinstance(node, If):
                continue
            starts = [b.keyword_span.start for b in node.branches]
            if node.else_span is not None:
                starts.append(node.else_span.start)
            starts.append(node.span.end)
            for first, following in itertools.pairwise(starts):
                a = position_at(document, region.to_document(first)).line
                b = position_at(document, region.to_document(following)).line
                if b - 1 > a:
                    ranges.append(
                        types.FoldingRange(
                            start_line=a, end_line=b - 1, kind=types.FoldingRangeKind.Region
                        )
                    )
            a = position_at(document, region.to_document(node.span.start)).line
            b = position_at(document, region.to_document(node.span.end)).line
            if b > a:
                ranges.append(
                    types.FoldingRange(start_line=a, end_line=b, kind=types.FoldingRangeKind.Region)
                )
    return ranges


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    profile = os.environ.get("CALCFORMULA_LSP_PROFILE")  # for developers: a cProfile file
    if not profile:
        server.start_io()
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        server.start_io()
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


__all__ = ["Any", "main", "server"]
