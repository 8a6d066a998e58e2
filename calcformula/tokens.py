"""The token type shared by the lexer, the parser and the tree builder.

It lives apart from the lexer so that the modules import in one direction: the lexer reads
the grammar, the grammar binds the tree builder, and the builder needs only this type.
"""

from __future__ import annotations

from typing import NamedTuple

from calcformula.span import Span


class Token(NamedTuple):
    type: str
    value: str
    span: Span
    synthetic: bool = False  # inserted by recovery or rewriting, not written by the user


# The keywords that may follow a complete value, by the grammar's terminal names (what the
# editor and the playground offer after one, beside the names for an implicit multiplication).
KEYWORDS_AFTER_VALUE = {
    "AND": "and",
    "OR": "or",
    "XOR": "xor",
    "THEN": "then",
    "ELSE": "else",
    "ELSEIF": "elseif",
    "ENDIF": "endif",
    "EQUALS": "equals",
}
