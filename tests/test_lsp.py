"""The language server end to end: a real LSP client (pytest-lsp) over stdio, with the client
capabilities of VS Code and of Neovim. Spec-compliance warnings are failures."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.checks.LspSpecificationWarning")

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
PROFILES = ["visual-studio-code", "neovim"]
ENCODINGS: dict[int, str] = {}  # the position encoding each client negotiated


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("lsp") / "project"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    params=PROFILES,
    config=ClientServerConfig(server_command=[sys.executable, "-m", "calcformula", "lsp"]),
)
async def client(
    lsp_client: LanguageClient, request: pytest.FixtureRequest, project: Path
) -> AsyncIterator[None]:
    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            root_uri=project.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="project")],
            initialization_options={"calcformula": {"formatStyle": "canonical"}},
        )
    )
    ENCODINGS[id(lsp_client)] = str(result.capabilities.position_encoding or "utf-16")
    yield
    await lsp_client.shutdown_session()


async def open_document(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="calcformula" if path.suffix == ".calc" else "yaml",
                version=1,
                text=text if text is not None else path.read_text(),
            )
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


async def change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    while True:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if client.diagnostics.get(uri) is not None:
            return


def codes(client: LanguageClient, uri: str) -> list[str]:
    return [str(d.code) for d in client.diagnostics.get(uri, [])]


@pytest.mark.asyncio
async def test_diagnostics_on_open_and_change(client: LanguageClient, project: Path) -> None:
    path = project / "scratch.calc"
    path.write_text("")
    uri = await open_document(client, path, "amount + * 2")
    assert codes(client, uri) == ["CF101"]
    [diagnostic] = client.diagnostics[uri]
    assert diagnostic.range.start == types.Position(line=0, character=9)
    assert diagnostic.source == "calcformula"
    await change(client, uri, "if bool(a) then 1 else 0 endif", 2)
    assert codes(client, uri) == ["CF106"]


@pytest.mark.asyncio
async def test_manifest_formula_file_gets_schema_and_type(
    client: LanguageClient, project: Path
) -> None:
    path = project / "formulas" / "weighted_amount.calc"
    uri = await open_document(client, path, "amout_in_home_currency * 'x'")
    assert "CF203" in codes(client, uri)  # unknown property: the deals schema is in use


@pytest.mark.asyncio
async def test_diagnostics_inside_the_manifest(client: LanguageClient, project: Path) -> None:
    path = project / "calcformula.yaml"
    text = path.read_text().replace("formula: max(0, round_down(", "formula: max(0, round_dow(")
    uri = await open_document(client, path, text)
    [diagnostic] = [d for d in client.diagnostics[uri] if d.code == "CF201"]
    line = text.splitlines()[diagnostic.range.start.line]
    assert line[diagnostic.range.start.character : diagnostic.range.end.character] == "round_dow"


@pytest.mark.asyncio
async def test_completion_of_properties_with_wrappers(
    client: LanguageClient, project: Path
) -> None:
    path = project / "formulas" / "amount_in_home_currency.calc"
    text = "if is_present(dea"
    uri = await open_document(client, path, text)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=len(text)),
        )
    )
    assert isinstance(result, types.CompletionList)
    items = {item.label: item for item in result.items}
    assert items["dealstage"].text_edit is not None
    assert items["dealstage"].text_edit.new_text == "string(dealstage)"  # an enumeration
    assert items["amount"].text_edit is not None
    assert items["amount"].text_edit.new_text == "amount"
    assert "round_down" in items  # functions too, while the formula is still broken


@pytest.mark.asyncio
async def test_completion_after_a_value_offers_operators(
    client: LanguageClient, project: Path
) -> None:
    path = project / "scratch2.calc"
    path.write_text("")
    text = "if amount > 1 "
    uri = await open_document(client, path, text)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=len(text)),
        )
    )
    assert isinstance(result, types.CompletionList)
    labels = {item.label for item in result.items}
    assert {"then", "and", "or"} <= labels and "round_down" not in labels


@pytest.mark.asyncio
async def test_hover_function_property_and_type(client: LanguageClient, project: Path) -> None:
    path = project / "formulas" / "weighted_amount.calc"
    text = "round_down(amount * 2, 0) + coalesce(hs_exchange_rate, 1)"
    uri = await open_document(client, path, text)

    async def hover_at(character: int) -> str:
        result = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=0, character=character),
            )
        )
        assert result is not None and isinstance(result.contents, types.MarkupContent)
        return result.contents.value

    assert "round_down(value: number, decimals: number) -> number" in await hover_at(3)
    assert "Amount" in await hover_at(13) and "number property" in await hover_at(13)
    assert "number" in await hover_at(18)  # the `*` expression's inferred type


@pytest.mark.asyncio
async def test_signature_help_tracks_the_active_parameter(
    client: LanguageClient, project: Path
) -> None:
    path = project / "scratch3.calc"
    path.write_text("")
    text = "substring(string(x), 1, "
    uri = await open_document(client, path, text)
    result = await client.text_document_signature_help_async(
        types.SignatureHelpParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=len(text)),
        )
    )
    assert result is not None
    assert result.signatures[0].label.startswith("substring(text: string")
    assert result.active_parameter == 2


@pytest.mark.asyncio
async def test_only_safe_fixes_are_preferred(client: LanguageClient, project: Path) -> None:
    path = project / "scratch_fixes.calc"
    path.write_text("")
    uri = await open_document(client, path, "concatnate('a', 'b') = 'ab' or 1 == 2")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=0, character=0), end=types.Position(line=0, character=37)
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    preferred = {a.title: a.is_preferred for a in actions or [] if isinstance(a, types.CodeAction)}
    assert preferred == {"Replace with `concatenate`": False, "Replace `==` with `=`": True}


@pytest.mark.asyncio
async def test_formatting_and_quick_fixes(client: LanguageClient, project: Path) -> None:
    path = project / "scratch4.calc"
    path.write_text("")
    uri = await open_document(client, path, "IF a>1 THEN 'x' ELSE 'y' endif")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=0, character=0), end=types.Position(line=0, character=30)
            ),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions and any(isinstance(a, types.CodeAction) and "endif" in a.title for a in actions)
    await change(client, uri, "IF a>1 THEN 'x' ELSE 'y'", 2)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert edits and edits[0].new_text == "if a > 1 then 'x' else 'y'\n"


@pytest.mark.asyncio
async def test_semantic_tokens_and_folding(client: LanguageClient, project: Path) -> None:
    path = project / "formulas" / "lead_tier.calc"
    uri = await open_document(client, path)
    tokens = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert tokens is not None and len(tokens.data) % 5 == 0 and tokens.data[3] == 0  # `if`
    folds = await client.text_document_folding_range_async(
        types.FoldingRangeParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert folds and any(f.start_line == 0 for f in folds)


@pytest.mark.asyncio
async def test_definition_jumps_to_the_schema(client: LanguageClient, project: Path) -> None:
    path = project / "formulas" / "amount_in_home_currency.calc"
    uri = await open_document(client, path)
    result = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=16),
        )
    )
    assert isinstance(result, list) and result[0].uri.endswith("schema/deals.json")


@pytest.mark.asyncio
async def test_utf16_positions_with_emoji(client: LanguageClient, project: Path) -> None:
    path = project / "scratch5.calc"
    path.write_text("")
    uri = await open_document(client, path, "'🙂🙂' + * 2")
    [diagnostic] = client.diagnostics[uri]
    # The `*` is code point 7; two emoji are 4 UTF-16 units or 8 UTF-8 bytes before it.
    expected = {"utf-16": 9, "utf-8": 13, "utf-32": 7}[ENCODINGS[id(client)]]
    assert diagnostic.range.start.character == expected


@pytest.mark.asyncio
async def test_survives_edits_beyond_the_end(client: LanguageClient, project: Path) -> None:
    path = project / "scratch6.calc"
    path.write_text("")
    uri = await open_document(client, path, "a + 1")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=40, character=3),
                        end=types.Position(line=99, character=0),
                    ),
                    text=" * 2",
                )
            ],
        )
    )
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=0),
        )
    )
    # Positions past the end are clamped to it (LSP), so the text is `a + 1 * 2`.
    assert result is not None and isinstance(result.contents, types.MarkupContent)
    assert result.contents.value.startswith("`a`: a property read as a number")


@pytest.mark.asyncio
async def test_settings_from_the_client_reload(client: LanguageClient, project: Path) -> None:
    path = project / "scratch7.calc"
    path.write_text("")
    uri = await open_document(client, path, "a + b")
    assert codes(client, uri) == ["CF401"]  # a warning
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"calcformula": {"lint": False}})
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert codes(client, uri) == []  # errors only now
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"calcformula": {"lint": True}})
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert codes(client, uri) == ["CF401"]


@pytest.mark.asyncio
async def test_hover_and_completion_inside_the_manifest(
    client: LanguageClient, project: Path
) -> None:
    path = project / "calcformula.yaml"
    text = path.read_text()
    uri = await open_document(client, path, text)
    lines = text.splitlines()
    # Hover the function in the inline formula of cf_days_to_close.
    line = next(i for i, text_line in enumerate(lines) if "round_down((closedate" in text_line)
    column = lines[line].index("round_down") + 2
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=column),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "round_down(value: number" in hover.contents.value
    # Complete inside the `|` block formula of cf_size_band: deals' properties are offered.
    line = next(
        i for i, text_line in enumerate(lines) if "elseif amount >= 50000 then" in text_line
    )
    column = lines[line].index("amount") + 3
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=column),
        )
    )
    assert isinstance(result, types.CompletionList)
    items = {item.label: item for item in result.items}
    assert "amount" in items and items["amount"].text_edit is not None
    edit_range = items["amount"].text_edit.range  # type: ignore[union-attr]
    assert edit_range.start == types.Position(line=line, character=column - 3)
    # Outside any formula there is nothing to complete.
    outside = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=2),
        )
    )
    assert isinstance(outside, types.CompletionList) and len(outside.items) == 0


async def _labels(client: LanguageClient, uri: str, text: str) -> dict[str, types.CompletionItem]:
    await change(client, uri, text, len(text) + 10)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=len(text)),
        )
    )
    assert isinstance(result, types.CompletionList)
    return {item.label: item for item in result.items}


@pytest.mark.asyncio
async def test_completion_after_a_value_still_offers_names_the_prefix_matches(
    client: LanguageClient, project: Path
) -> None:
    path = project / "formulas" / "weighted_amount.calc"
    uri = await open_document(client, path, "2 ")
    # `am` starts no keyword that may follow a value: implicit multiplication is valid, so
    # the names it matches are offered rather than nothing.
    items = await _labels(client, uri, "2 am")
    assert "amount" in items and items["amount"].text_edit is not None
    assert items["amount"].text_edit.new_text == "amount"
    # `an` starts `and`: there only operators and keywords are offered.
    items = await _labels(client, uri, "amount an")
    assert "and" in items and "amount" not in items


@pytest.mark.asyncio
async def test_completion_inside_wrappers_offers_that_kind_as_bare_names(
    client: LanguageClient, project: Path
) -> None:
    path = project / "formulas" / "weighted_amount.calc"
    uri = await open_document(client, path, "1")
    items = await _labels(client, uri, "string(")
    assert {"dealname", "dealstage", "hubspot_owner_id"} <= set(items)
    assert "amount" not in items and "closedate" not in items and "round_down" not in items
    assert items["dealstage"].text_edit is not None
    assert items["dealstage"].text_edit.new_text == "dealstage"  # not string(dealstage)
    items = await _labels(client, uri, "timestamp(deal")
    assert items["dealstage"].text_edit is not None
    assert items["dealstage"].text_edit.new_text == "dealstage"


@pytest.mark.asyncio
async def test_completion_offers_elseif_wherever_it_can_follow(
    client: LanguageClient, project: Path
) -> None:
    path = project / "formulas" / "weighted_amount.calc"
    uri = await open_document(client, path, "1")
    for text in (
        "if amount > 1 then 2 ",
        "if amount > 1 then amount * 2 ",
        "if amount > 1 then 1 elseif amount > 0 then 2 ",
        "if amount > 1 then if amount > 2 then 1 else 2 ",
        "if amount > 1 then 2 el",
    ):
        items = await _labels(client, uri, text)
        assert "elseif" in items, text
    assert "elseif" not in await _labels(client, uri, "amount + 1 ")


@pytest.mark.asyncio
async def test_hover_on_an_unknown_property_says_so(client: LanguageClient, project: Path) -> None:
    path = project / "formulas" / "weighted_amount.calc"
    uri = await open_document(client, path, "amout * 2")
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=2),
        )
    )
    assert result is not None and isinstance(result.contents, types.MarkupContent)
    assert "no property of this name" in result.contents.value
    assert "error" not in result.contents.value
