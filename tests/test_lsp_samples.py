"""Values on a sample record in the editor (issue 15): with `samples:` in calcformula.yaml, an
inlay hint after each formula shows its value on the first sample record and hover shows a
sub-expression's value with the blank reason; without samples nothing changes. A real client
(pytest-lsp) over stdio."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from calcformula.manifest import parse_manifest
from tests.test_lsp import EXAMPLES, open_document

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.checks.LspSpecificationWarning")

SAMPLE = {
    "id": "7",
    "properties": {"amount": "60000", "createdate": "1760832000000", "closedate": ""},
}


@pytest.fixture(scope="module", params=["samples", "none"])
def project(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    target = tmp_path_factory.mktemp("lsp-samples") / "project"
    shutil.copytree(EXAMPLES, target)
    if request.param == "samples":
        (target / "samples.ndjson").write_text(json.dumps(SAMPLE) + "\n", encoding="utf-8")
        manifest = target / "calcformula.yaml"
        manifest.write_text(
            manifest.read_text(encoding="utf-8") + "samples: samples.ndjson\n", encoding="utf-8"
        )
    return target


@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    config=ClientServerConfig(server_command=[sys.executable, "-m", "calcformula", "lsp"]),
)
async def client(lsp_client: LanguageClient, project: Path) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=project.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="project")],
        )
    )
    yield
    await lsp_client.shutdown_session()


def has_samples(project: Path) -> bool:
    return (project / "samples.ndjson").exists()


async def hints(client: LanguageClient, uri: str, lines: int) -> list[types.InlayHint]:
    result = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=0, character=0),
                end=types.Position(line=lines, character=0),
            ),
        )
    )
    return list(result or [])


async def hover(client: LanguageClient, uri: str, line: int, character: int) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
        )
    )
    assert result is not None and isinstance(result.contents, types.MarkupContent)
    return result.contents.value


@pytest.mark.asyncio
async def test_inlay_hints_after_each_formula_of_the_manifest(
    client: LanguageClient, project: Path
) -> None:
    path = project / "calcformula.yaml"
    text = path.read_text(encoding="utf-8")
    uri = await open_document(client, path, text)
    lines = text.splitlines()
    found = await hints(client, uri, len(lines))
    if not has_samples(project):
        assert found == []
        return
    by_line = {hint.position.line: hint for hint in found}
    days = next(i for i, line in enumerate(lines) if "round_down((closedate" in line)
    hint = by_line[days]
    assert hint.label == "= (blank)"
    assert hint.position.character == len(lines[days])  # right after the formula
    assert str(hint.tooltip).startswith("blank because `closedate` is blank on this record")
    band_end = next(i for i, line in enumerate(lines) if line.strip() == "'small'")
    assert by_line[band_end].label == "= 'large'"


@pytest.mark.asyncio
async def test_hover_shows_the_value_on_the_sample_record(
    client: LanguageClient, project: Path
) -> None:
    path = project / "calcformula.yaml"
    text = path.read_text(encoding="utf-8")
    uri = await open_document(client, path, text)
    lines = text.splitlines()
    line = next(i for i, line in enumerate(lines) if "round_down((closedate" in line)
    closedate = await hover(client, uri, line, lines[line].index("closedate") + 2)
    createdate = await hover(client, uri, line, lines[line].index("createdate") + 2)
    if not has_samples(project):
        assert "sample record" not in closedate + createdate
        return
    assert closedate.endswith("On sample record 7: `(blank)` (blank on this record)")
    assert createdate.endswith("On sample record 7: `1760832000000`")


@pytest.mark.asyncio
async def test_formula_file_of_the_manifest_gets_a_hint(
    client: LanguageClient, project: Path
) -> None:
    path = project / "formulas" / "weighted_amount.calc"
    text = path.read_text(encoding="utf-8")
    uri = await open_document(client, path, text)
    found = await hints(client, uri, text.count("\n") + 1)
    if not has_samples(project):
        assert found == []
        return
    [hint] = found
    assert str(hint.label).startswith("= ")
    operator = await hover(client, uri, 0, 0)
    assert "On sample record 7" in operator


def test_the_manifest_reads_samples_and_reports_a_missing_file(tmp_path: Path) -> None:
    text = (EXAMPLES / "calcformula.yaml").read_text(encoding="utf-8")
    shutil.copytree(EXAMPLES, tmp_path / "p")
    (tmp_path / "p" / "samples.ndjson").write_text(json.dumps(SAMPLE) + "\n", encoding="utf-8")
    found = parse_manifest(tmp_path / "p" / "calcformula.yaml", text + "samples: samples.ndjson\n")
    assert found.ok and found.samples == tmp_path / "p" / "samples.ndjson"
    assert parse_manifest(tmp_path / "p" / "calcformula.yaml", text).samples is None
    missing = parse_manifest(tmp_path / "p" / "calcformula.yaml", text + "samples: nope.csv\n")
    assert [d.code for d in missing.diagnostics] == ["CF607"]
    assert "samples `nope.csv` does not exist" in missing.diagnostics[0].message
