"""The grammar file: its conflicts are the reviewed ones, it knows HubSpot's whole token list,
and it ships inside the package."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from lark import Lark, logger

from calcformula.functions import REGISTRY
from calcformula.grammar import grammar_path, grammar_text
from calcformula.lexer import keyword_types

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def _conflicts() -> set[tuple[str, str]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        Lark(grammar_text(), parser="lalr", lexer="basic", debug=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = stream.getvalue().splitlines()
    found: set[tuple[str, str]] = set()
    for i, line in enumerate(lines):
        matched = re.match(r"Shift/Reduce conflict for terminal (\w+)", line)
        if matched:
            j = i + 1
            while not lines[j].strip().startswith("*"):
                j += 1
            found.add((matched.group(1), lines[j].strip().lstrip("* ").strip()))
    return found


def test_shift_reduce_conflicts_are_the_reviewed_ones() -> None:
    reviewed = {
        tuple(line.split("\t"))
        for line in (DATA / "grammar_conflicts.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert _conflicts() == reviewed


def test_no_reduce_reduce_conflicts() -> None:
    # Lark raises GrammarError on reduce/reduce conflicts; building must succeed.
    Lark(grammar_text(), parser="lalr", lexer="basic")


def test_every_name_in_hubspots_token_list_is_known() -> None:
    listed = {
        t.strip()
        for t in (DATA / "hubspot_parser_tokens.txt").read_text().replace("\n", " ").split(",")
    }
    listed.discard("xor or then expected")
    listed |= {"xor", "then"}
    function_names = {t for t in listed if re.fullmatch(r"[a-z_]+", t)} - set(keyword_types())
    assert function_names == set(REGISTRY), function_names ^ set(REGISTRY)
    keywords = set(keyword_types())
    for word in (
        "if",
        "true",
        "false",
        "e",
        "now",
        "target",
        "bool",
        "string",
        "timestamp",
        "equals",
        "or",
        "and",
        "xor",
        "then",
    ):
        assert word in keywords


def test_grammar_ships_inside_the_wheel(tmp_path: Path) -> None:
    packaged = ROOT / "calcformula" / "data" / "calcformula.lark"
    assert packaged.is_symlink() and packaged.resolve() == (ROOT / "grammar" / "calcformula.lark")
    assert grammar_path().read_text() == (ROOT / "grammar" / "calcformula.lark").read_text()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("calcformula-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "calcformula/data/calcformula.lark" in names
        assert archive.read("calcformula/data/calcformula.lark").decode() == grammar_text()
        assert "calcformula_lsp/server.py" in names
        assert not any(name.startswith("lsp/") for name in names)
