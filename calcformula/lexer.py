"""Turns formula text into tokens, using the terminals defined in the grammar.

The lexer never fails: a character outside the language becomes a diagnostic, and where the
author's intent is clear (`&&`, `[properties.x]`, braces, typographic quotes, an unterminated
string) the lexer emits the tokens that were meant, so parsing continues and reports the next
real mistake rather than a cascade.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from lark.lexer import PatternStr

from calcformula import codes
from calcformula.diagnostics import Diagnostic, Fix, TextEdit
from calcformula.grammar import lark_parser
from calcformula.span import LineIndex, Span
from calcformula.tokens import Token as Token  # re-exported: the lexer's output type


@dataclass(frozen=True, slots=True)
class _Scanner:
    pattern: re.Pattern[str]
    keywords: dict[str, str]
    ignore: frozenset[str]


@functools.cache
def _scanner() -> _Scanner:
    parser = lark_parser()
    name_pattern = next(t for t in parser.terminals if t.name == "NAME").pattern.to_regexp()
    name_re = re.compile(name_pattern, re.ASCII)
    keywords: dict[str, str] = {}
    alternatives: list[tuple[int, str, str]] = []
    for terminal in parser.terminals:
        pattern = terminal.pattern
        if isinstance(pattern, PatternStr) and name_re.fullmatch(pattern.value):
            keywords[pattern.value.lower()] = terminal.name
            continue
        # Longer literal operators first (`<=` before `<`); regexes before literals.
        width = len(pattern.value) if isinstance(pattern, PatternStr) else 1000
        alternatives.append((-width, terminal.name, pattern.to_regexp()))
    alternatives.sort()
    combined = "|".join(f"(?P<{name}>{regexp})" for _, name, regexp in alternatives)
    return _Scanner(re.compile(combined, re.ASCII), keywords, frozenset(parser.lexer_conf.ignore))


def keyword_types() -> dict[str, str]:
    """Keyword text (lower case) to terminal name."""
    return dict(_scanner().keywords)


_TYPOGRAPHIC_QUOTES = {"‘": "’", "’": "’", "‚": "’", "“": "”", "”": "”", "„": "”", "«": "»"}
_UI_PROPERTY = re.compile(r"\[\s*(?:properties\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\]", re.ASCII)
_DECIMAL_WITHOUT_DIGIT = re.compile(r"\.[0-9]+", re.ASCII)
_TARGET_PROPERTY = re.compile(r"\.\s*([A-Za-z_][A-Za-z0-9_]*)", re.ASCII)


class Lexer:
    """One pass over one text. Use `tokenize`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = LineIndex(text)
        self.tokens: list[Token] = []
        self.diagnostics: list[Diagnostic] = []
        # For braces: the paren depth of each `if` still waiting for its `then`, and what
        # each open `{` stands for.
        self._if_depths: list[int] = []
        self._depth = 0
        self._braces: list[str] = []
        self._brace_diagnostic: int | None = None

    def span(self, start: int, end: int) -> Span:
        return self.index.span(start, end)

    def emit(
        self,
        kind: str,
        value: str,
        start: int,
        end: int,
        synthetic: bool = False,
        span: Span | None = None,
    ) -> None:
        self.tokens.append(Token(kind, value, span or self.span(start, end), synthetic))
        if kind == "LPAR":
            self._depth += 1
        elif kind == "RPAR":
            self._depth -= 1
        elif kind == "IF":
            self._if_depths.append(self._depth)
        elif kind == "THEN" and self._if_depths:
            self._if_depths.pop()

    def run(self) -> None:
        scanner = _scanner()
        match = scanner.pattern.match
        keywords = scanner.keywords
        ignore = scanner.ignore
        text = self.text
        length = len(text)
        position = 0
        index = self.index
        tokens = self.tokens
        tracked = ("LPAR", "RPAR", "IF", "THEN")
        # Lines are tracked as we go; only multi-line tokens need the line index.
        line, line_start = 1, 0
        while position < length:
            found = match(text, position)
            if found is None:
                position = self._foreign(position)
                line, column = index.position(position)
                line_start = position - column + 1
                continue
            kind = found.lastgroup
            assert kind is not None
            end = found.end()
            if kind in ignore:
                breaks = text.count("\n", position, end)
                if breaks:
                    line += breaks
                    line_start = text.rfind("\n", position, end) + 1
                position = end
                continue
            value = found.group()
            if kind == "NAME":
                kind = keywords.get(value.lower(), "NAME")
            if kind == "STRING" and "\n" in value:
                span = index.span(position, end)
                line, line_start = span.end_line, end - span.end_column + 1
            else:
                column = position - line_start + 1
                span = Span(position, end, line, column, line, column + end - position)
            if kind in tracked:
                self.emit(kind, value, position, end, span=span)
            elif kind == "STAR" and text.startswith("*", end):
                # `**` (a power operator elsewhere): one clear diagnostic, not "a value after *"
                self._operator(position, 2, "**", "`power(base, exponent)`", "STAR", None)
                end += 1
            else:
                tokens.append(Token(kind, value, span))
            position = end

    # --- characters outside the language -----------------------------------------------------

    def _foreign(self, position: int) -> int:
        text = self.text
        char = text[position]
        pair = text[position : position + 2]
        if char in "'\"":
            return self._unterminated_string(position)
        if char in _TYPOGRAPHIC_QUOTES:
            return self._typographic_string(position)
        if pair in ("&&", "||"):
            word = "and" if pair == "&&" else "or"
            self._operator(position, 2, pair, f"`{word}`", "AND" if pair == "&&" else "OR", word)
            return position + 2
        if char == "!":
            self._operator(position, 1, "!", "`not`", "NOT", "not ")
            return position + 1
        if char == "&":
            self._operator(position, 1, "&", "`+` (or `concatenate(a, b)`)", "PLUS", "+")
            return position + 1
        if char == "^":
            self._operator(position, 1, "^", "`power(base, exponent)`", "STAR", None)
            return position + 1
        if char == "%":
            self._operator(
                position,
                1,
                "%",
                "`a - b * round_down(a / b, 0)` for the remainder of `a / b` (there is no "
                "modulo operator)",
                "STAR",
                None,
            )
            return position + 1
        if char == "[":
            matched = _UI_PROPERTY.match(text, position)
            if matched:
                name = matched.group(1)
                span = self.span(position, matched.end())
                self.diagnostics.append(
                    codes.UI_PROPERTY_REFERENCE.at(
                        span,
                        found=matched.group(),
                        name=name,
                        fixes=(Fix(f"Replace with `{name}`", (TextEdit(span, name),)),),
                    )
                )
                self.emit("NAME", name, position, matched.end(), synthetic=True)
                return matched.end()
        if char in "{}":
            return self._brace(position)
        if char == ".":
            target = _TARGET_PROPERTY.match(text, position)
            if target and self.tokens and self.tokens[-1].type == "TARGET":
                return self._target_property(target)
            matched = _DECIMAL_WITHOUT_DIGIT.match(text, position)
            if matched:
                replacement = "0" + matched.group()
                span = self.span(position, matched.end())
                self.diagnostics.append(
                    codes.DECIMAL_WITHOUT_DIGIT.at(
                        span,
                        replacement=replacement,
                        fixes=(Fix(f"Write `{replacement}`", (TextEdit(span, replacement),)),),
                    )
                )
                self.emit("NUMBER", replacement, position, matched.end(), synthetic=True)
                return matched.end()
        return self._unexpected(position)

    def _operator(
        self, position: int, width: int, found: str, replacement: str, kind: str, fix: str | None
    ) -> None:
        span = self.span(position, position + width)
        fixes = (
            (Fix(f"Replace `{found}` with `{fix.strip()}`", (TextEdit(span, fix),)),) if fix else ()
        )
        self.diagnostics.append(
            codes.UI_OPERATOR.at(span, found=found, replacement=replacement, fixes=fixes)
        )
        self.emit(kind, found, position, position + width, synthetic=True)

    def _target_property(self, matched: re.Match[str]) -> int:
        """`TARGET.x`: one error over the whole reference (HubSpot refuses it), and one
        TARGET token in its place so parsing goes on."""
        target = self.tokens.pop()
        start = target.span.start
        span = self.span(start, matched.end())
        self.diagnostics.append(
            codes.TARGET_PROPERTY.at(
                span, found=self.text[start : matched.end()], name=matched.group(1).lower()
            )
        )
        self.emit("TARGET", self.text[start : matched.end()], start, matched.end(), synthetic=True)
        return matched.end()

    def _unexpected(self, position: int) -> int:
        text = self.text
        end = position + 1
        # One diagnostic for a run of characters the lexer cannot read.
        scanner = _scanner().pattern
        while end < len(text) and scanner.match(text, end) is None and not self._recoverable(end):
            end += 1
        run = text[position:end]
        span = self.span(position, end)
        fixes: tuple[Fix, ...] = ()
        if run.isspace():
            fixes = (Fix("Replace with a plain space", (TextEdit(span, " "),)),)
        elif run in (";", "`"):
            fixes = (Fix(f"Remove `{run}`", (TextEdit(span, ""),)),)
        self.diagnostics.append(
            codes.UNEXPECTED_CHARACTER.at(span, found=describe_chars(run), fixes=fixes)
        )
        return end

    def _recoverable(self, position: int) -> bool:
        char = self.text[position]
        return char in "'\"&|!^[{}." or char in _TYPOGRAPHIC_QUOTES

    def _unterminated_string(self, position: int) -> int:
        text = self.text
        quote = text[position]
        line_end = text.find("\n", position)
        end = len(text) if line_end == -1 else line_end
        # The quote was most likely meant before the closing parentheses and commas that end
        # the line: `concatenate('a', 'b)` wants `'b')`. The string stops there and the rest
        # is read as code.
        while end > position + 1 and text[end - 1] in ") ,\t\r":
            end -= 1
        content = text[position + 1 : end]
        span = self.span(position, end)
        insert_at = self.span(end, end)
        self.diagnostics.append(
            codes.UNTERMINATED_STRING.at(
                span,
                quote=quote,
                fixes=(Fix(f"Close the string with {quote}", (TextEdit(insert_at, quote),)),),
            )
        )
        escaped = content.replace("\\", "\\\\").replace(quote, "\\" + quote)
        self.emit("STRING", quote + escaped + quote, position, end, synthetic=True)
        return end

    def _typographic_string(self, position: int) -> int:
        text = self.text
        opening = text[position]
        closing = _TYPOGRAPHIC_QUOTES[opening]
        candidates = [
            i
            for i in (text.find(closing, position + 1), text.find(opening, position + 1))
            if i != -1
        ]
        line_end = text.find("\n", position)
        if line_end == -1:
            line_end = len(text)
        end_quote = min(candidates) if candidates else -1
        if end_quote == -1 or end_quote > line_end:
            return self._unexpected(position)
        content = text[position + 1 : end_quote]
        quote = '"' if opening in "“”„«" else "'"
        span = self.span(position, end_quote + 1)
        open_span = self.span(position, position + 1)
        close_span = self.span(end_quote, end_quote + 1)
        self.diagnostics.append(
            codes.TYPOGRAPHIC_QUOTE.at(
                open_span,
                found=f"`{opening}`",
                fixes=(
                    Fix(
                        f"Use straight quotes {quote}",
                        (TextEdit(open_span, quote), TextEdit(close_span, quote)),
                    ),
                ),
            )
        )
        escaped = content.replace("\\", "\\\\").replace(quote, "\\" + quote)
        self.emit("STRING", quote + escaped + quote, span.start, span.end, synthetic=True)
        return end_quote + 1

    def _brace(self, position: int) -> int:
        char = self.text[position]
        span = self.span(position, position + 1)
        if char == "{":
            previous = self.tokens[-1].type if self.tokens else None
            if self._if_depths and self._if_depths[-1] == self._depth and previous != "THEN":
                role, replacement = "then", "then"
                self.emit("THEN", "{", position, position + 1, synthetic=True)
            elif previous in ("ELSE", "THEN"):
                role, replacement = "drop", ""
            else:
                role, replacement = "group", "("
                self.emit("LPAR", "{", position, position + 1, synthetic=True)
            self._braces.append(role)
        else:
            role = self._braces.pop() if self._braces else "drop"
            replacement = ")" if role == "group" else ""
            if role == "group":
                self.emit("RPAR", "}", position, position + 1, synthetic=True)
        edit = TextEdit(span, replacement)
        # One diagnostic per `if` written with braces: later braces add their edits to it.
        if self._brace_diagnostic is not None and (char == "}" or role == "drop"):
            previous_diagnostic = self.diagnostics[self._brace_diagnostic]
            fix = previous_diagnostic.fixes[0]
            merged = Fix(fix.title, (*fix.edits, edit))
            self.diagnostics[self._brace_diagnostic] = Diagnostic(
                previous_diagnostic.code,
                previous_diagnostic.severity,
                previous_diagnostic.message,
                previous_diagnostic.span.merge(span),
                (merged,),
                previous_diagnostic.related,
            )
        else:
            self._brace_diagnostic = len(self.diagnostics)
            self.diagnostics.append(
                codes.BRACES.at(span, fixes=(Fix("Rewrite without braces", (edit,)),))
            )
        return position + 1


def describe_chars(run: str) -> str:
    """How a message names characters: printable ones quoted, others by code point and name."""
    if len(run) == 1 or len(set(run)) == 1:
        char = run[0]
        if char.isprintable() and not char.isspace():
            label = f"`{char}`"
        else:
            name = unicodedata.name(char, "")
            if not name and char == "\x00":
                name = "NULL"
            label = f"U+{ord(char):04X}" + (f" {name}" if name else "")
        return label if len(run) == 1 else f"{label} ({len(run)} times)"
    shown = run if len(run) <= 20 else run[:20] + "…"
    if shown.isprintable():
        return f"characters `{shown}`"
    return "characters " + ", ".join(f"U+{ord(c):04X}" for c in shown[:8])


def tokenize(text: str) -> tuple[list[Token], list[Diagnostic]]:
    """All tokens of `text` (whitespace dropped) and the lexical diagnostics."""
    lexer = Lexer(text)
    lexer.run()
    return lexer.tokens, lexer.diagnostics
