"""Loading the Lark grammar: the file, the cached LALR tables, and the names of its terminals.

`grammar/calcformula.lark` at the top of the repository is the single source of the syntax;
the wheel carries a copy inside the package. Building the LALR tables takes a while, so they
are cached per user (Lark verifies the cache against the grammar text and its own version).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from lark import Lark

_PACKAGED = Path(__file__).parent / "data" / "calcformula.lark"
_SOURCE_TREE = Path(__file__).parent.parent / "grammar" / "calcformula.lark"


def grammar_path() -> Path:
    """Where the grammar file is: inside the installed package, or in the source tree."""
    return _PACKAGED if _PACKAGED.is_file() else _SOURCE_TREE


@functools.cache
def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


def _cache_file() -> str | bool:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "calcformula"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".writable"
        probe.touch()
    except OSError:
        return False  # read-only home: build the tables every time rather than fail
    return str(folder / f"grammar-py{sys.version_info[0]}{sys.version_info[1]}.lark-cache")


@functools.cache
def lark_parser() -> Lark:
    """The LALR parser, built once per process, with the syntax-tree builder bound to it."""
    from calcformula.builder import AstBuilder

    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        transformer=AstBuilder(),
        maybe_placeholders=True,
        cache=_cache_file(),
    )


def lark_parser_plain() -> Lark:
    """The same grammar building Lark's own trees: the benchmark baseline and grammar tests."""
    return Lark(grammar_text(), parser="lalr", lexer="basic", maybe_placeholders=True)
