"""Neovim, headless, end to end: its built-in LSP client talks to `calcformula lsp`.

.ci/run installs Neovim from Debian and sets CALCFORMULA_REQUIRE_NVIM=1, so in CI this test
runs (it fails rather than skips if Neovim is missing there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_neovim_gets_diagnostics_completion_and_hover(tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    if nvim is None:
        if os.environ.get("CALCFORMULA_REQUIRE_NVIM"):
            pytest.fail("Neovim is required here (CALCFORMULA_REQUIRE_NVIM) but not installed")
        pytest.skip("Neovim is not installed (.ci/run installs it)")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples", project)
    out = tmp_path / "result.json"
    env = {
        **os.environ,
        "CF_ROOT": str(project),
        "CF_OUT": str(out),
        "CF_PYTHON": sys.executable,
        "HOME": str(tmp_path),
    }
    subprocess.run(
        [nvim, "--headless", "--clean", "-c", f"luafile {ROOT / 'tests/nvim/e2e.lua'}"],
        env=env,
        timeout=120,
        check=True,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    assert "error" not in result, result.get("error")
    codes = {d["code"] for d in result["diagnostics"]}
    assert "CF203" in codes  # `amout`: unknown property, found through the manifest's schema
    inserts = {item["label"]: item["insert"] for item in result["completion"]}
    assert inserts.get("dealstage") == "string(dealstage)"
    assert "round_down(value: number, decimals: number)" in result["hover"]
