"""`parse(text)`: the syntax tree of a formula and every syntax diagnostic, never an exception.

The pipeline: the lexer turns text into tokens; a rewriting pass recognises mistakes whose
intent is clear (the UI editor's `if(c, a, b)`, `==`, `NOW()`, a misspelt `and`, unknown
functions) and reports them; then the tokens are fed one by one to Lark's LALR parser. When a
token does not fit, the parser reports what it found and what it expected, and repairs: it
inserts the smallest thing that lets the token fit (a value, a `)`, a `then`), or else skips
the token. Errors right after a repair are suppressed as cascades; after `MAX_SHOWN` errors
the rest are counted in one note.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_parser_state import ParseConf, ParserState

from calcformula import codes
from calcformula.diagnostics import Diagnostic, Fix, Related, TextEdit, sort_diagnostics
from calcformula.functions import lookup, suggest
from calcformula.grammar import lark_parser
from calcformula.lexer import Token, keyword_types, tokenize
from calcformula.nodes import Binary, Missing, Node, nesting_depth
from calcformula.span import LineIndex, Span

MAX_SHOWN = 25  # syntax errors reported before "N more"
MAX_RECOVERIES = 500  # after this many errors the parser gives up on the rest of the text
MAX_DEPTH = 200  # nesting levels the checker, evaluator and formatter are asked to walk
MAX_FORMULA = 1_000_000  # characters (and bytes) read; longer formulas get CF003 unparsed

OPERATORS = frozenset(
    {
        "PLUS",
        "MINUS",
        "STAR",
        "SLASH",
        "LT",
        "GT",
        "LE",
        "GE",
        "EQ",
        "EQUALS",
        "NE",
        "AND",
        "OR",
        "XOR",
    }
)
COMPARISONS = frozenset({"LT", "GT", "LE", "GE", "EQ", "EQUALS", "NE"})
VALUE_STARTS = frozenset(
    {
        "NUMBER",
        "STRING",
        "TRUE",
        "FALSE",
        "E",
        "NOW",
        "TARGET",
        "NAME",
        "STRING_WRAPPER",
        "BOOL_WRAPPER",
        "TIMESTAMP_WRAPPER",
        "LPAR",
        "IF",
        "MINUS",
        "NOT",
        "MISSING",
    }
)
VALUE_ENDS = frozenset(
    {"NUMBER", "STRING", "TRUE", "FALSE", "E", "NOW", "TARGET", "NAME", "RPAR", "ENDIF"}
)
WRAPPERS = frozenset({"STRING_WRAPPER", "BOOL_WRAPPER", "TIMESTAMP_WRAPPER"})
# Tried in order; the first that lets the offending token fit is inserted.
_REPAIRS: tuple[tuple[str, ...], ...] = (
    ("MISSING",),
    ("RPAR",),
    ("THEN",),
    ("THEN", "MISSING"),
    ("MISSING", "RPAR"),
    ("NAME",),
)
# What `_finish` inserts at the end of the text, after a complete value and otherwise.
_CLOSERS = ("RPAR", "THEN", "ENDIF")
_FILLERS = ("MISSING", "RPAR", "THEN", "NAME", "ENDIF")
_WORDS = {
    "THEN": "`then`",
    "ELSE": "`else`",
    "ELSEIF": "`elseif`",
    "ENDIF": "`endif`",
    "RPAR": "`)`",
    "LPAR": "`(`",
    "COMMA": "`,`",
    "$END": "the end of the formula",
}


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The tree (with `Missing` nodes where recovery filled gaps) and the diagnostics."""

    text: str
    tree: Node
    diagnostics: tuple[Diagnostic, ...]
    tokens: tuple[Token, ...] = field(repr=False, default=())

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and notes allowed)."""
        return not any(d.is_error for d in self.diagnostics)


@dataclass(frozen=True, slots=True)
class _Tables:
    conf: ParseConf[Any]
    terminals: tuple[str, ...]


@functools.cache
def _tables() -> _Tables:
    parser = lark_parser()
    interactive = parser.parse_interactive("")
    conf = interactive.parser_state.parse_conf
    terminals = tuple(sorted({t.name for t in parser.terminals} | {"MISSING", "$END"}))
    return _Tables(conf, terminals)


def _fits(conf: ParseConf[Any], stack: list[Any], types: tuple[str, ...]) -> bool:
    """Would the parser in this state accept these token types? (No values are built.)

    The parser's stack is never copied: reductions pop by lowering `depth` into it and shifts
    push onto a small overlay, so a check costs what it touches, not the nesting depth (a copy
    per check made recovery in 100,000 unclosed `(` quadratic)."""
    states = conf.states
    end_state = conf.end_state
    depth = len(stack)
    pushed: list[Any] = []
    for kind in types:
        while True:
            top = pushed[-1] if pushed else stack[depth - 1]
            entry = states[top].get(kind)
            if entry is None:
                return False
            action, arg = entry
            if action is Shift:
                pushed.append(arg)
                break
            size = len(arg.expansion)
            if size:
                kept = len(pushed) - size
                if kept >= 0:
                    del pushed[kept:]
                else:
                    pushed.clear()
                    depth += kept
            top = pushed[-1] if pushed else stack[depth - 1]
            pushed.append(states[top][arg.origin.name][1])
            if kind == "$END" and pushed[-1] == end_state:
                return True
    return True


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "the end of the formula"
    if token.type == "STRING":
        value = token.value if len(token.value) <= 24 else token.value[:21] + "…" + token.value[0]
        return f"the string {value}"
    if token.type == "MISSING":
        return "nothing"
    text = token.value if len(token.value) <= 30 else token.value[:29] + "…"
    return f"`{text}`"


def _describe_expected(expected: set[str], previous: Token | None) -> str:
    """What could stand here, in words a user knows ("an operator or `then`")."""
    parts: list[str] = []
    values = expected & VALUE_STARTS
    if expected & (OPERATORS - {"MINUS"}):
        # After a complete value every value may follow too (implicit multiplication);
        # "an operator" is what a user needs to hear.
        parts.append("an operator")
    elif values - {"NAME"}:
        if previous is not None and previous.type in OPERATORS | {"NOT"}:
            parts.append(f"a value after `{previous.value}`")
        else:
            parts.append("a value")
    elif "NAME" in expected:
        parts.append("a property name")
    for kind in ("THEN", "ELSEIF", "ELSE", "ENDIF", "COMMA", "RPAR", "$END"):
        if kind in expected:
            parts.append(_WORDS[kind])
    if "LPAR" in expected and not values - {"LPAR"}:
        parts.append(_WORDS["LPAR"])
    if not parts:
        parts.append("something else")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


class _Parse:
    """State of one parse."""

    def __init__(self, text: str, tokens: list[Token], lexical: list[Diagnostic]) -> None:
        self.text = text
        self.tokens = tokens
        # Where the lexer already reported something: a parse error right after one of these
        # is its consequence, not a new mistake.
        self.lexical_starts = sorted(d.span.start for d in lexical)
        # Ranges already explained by one diagnostic (a UI-editor `if` we could not rewrite):
        # parse errors inside them are not reported again.
        self.explained: list[Span] = []
        self.index = LineIndex(text)
        self.diagnostics: list[Diagnostic] = []
        self.error_count = 0
        self.shown = 0
        self.suppressed_first: Span | None = None
        self.hidden = 0  # errors past MAX_SHOWN, counted in one CF199 note

    # --- the rewriting pass -----------------------------------------------------------------

    def rewrite(self) -> None:
        tokens = self.tokens
        keywords = keyword_types()
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            n = len(tokens)
            token = tokens[i]
            kind = token.type
            following = tokens[i + 1] if i + 1 < n else None
            if kind == "NAME":
                token = self._check_name(token, out[-1] if out else None, following, keywords)
            elif kind == "IF" and following is not None and following.type == "LPAR":
                if self._function_form_if(i):
                    continue  # tokens[i] is now the `(` moved in front of the `if`
            elif kind == "NOW" and following is not None and following.type == "LPAR":
                after = tokens[i + 2] if i + 2 < n else None
                if after is not None and after.type == "RPAR":
                    span = Span(
                        following.span.start,
                        after.span.end,
                        following.span.line,
                        following.span.column,
                        after.span.end_line,
                        after.span.end_column,
                    )
                    self.diagnostics.append(
                        codes.NOW_WITH_PARENTHESES.at(
                            span, fixes=(Fix("Remove `()`", (TextEdit(span, ""),)),)
                        )
                    )
                    out.append(token)
                    i += 3
                    continue
            elif (
                kind == "EQ"
                and following is not None
                and following.type == "EQ"
                and following.span.start == token.span.end
            ):
                span = token.span.merge(following.span)
                self.diagnostics.append(
                    codes.UI_OPERATOR.at(
                        span,
                        found="==",
                        replacement="`=` (or `equals`)",
                        fixes=(Fix("Replace `==` with `=`", (TextEdit(span, "="),)),),
                    )
                )
                out.append(Token("EQ", "==", span, True))
                i += 2
                continue
            elif (
                kind == "LT"
                and following is not None
                and following.type == "GT"
                and following.span.start == token.span.end
            ):
                span = token.span.merge(following.span)
                self.diagnostics.append(
                    codes.UI_OPERATOR.at(
                        span,
                        found="<>",
                        replacement="`!=`",
                        fixes=(Fix("Replace `<>` with `!=`", (TextEdit(span, "!="),)),),
                    )
                )
                out.append(Token("NE", "<>", span, True))
                i += 2
                continue
            out.append(token)
            i += 1
        self.tokens = out
        self._missing_then()

    def _missing_then(self) -> None:
        """`if amount > 1000 'big' else 'small'`: the condition runs straight into the value
        (implicit multiplication joins them) and only `else` shows that `then` is missing.
        Report `then` where it belongs, alone, and insert it so parsing goes on as meant."""
        tokens = self.tokens
        waiting: list[tuple[int, int]] = []  # (index of an `if` without `then`, paren depth)
        depth = 0
        inserts: list[int] = []
        for j, token in enumerate(tokens):
            kind = token.type
            if kind == "LPAR":
                depth += 1
            elif kind == "RPAR":
                depth -= 1
            elif kind == "IF":
                waiting.append((j, depth))
            elif kind == "THEN" and waiting:
                waiting.pop()
            elif kind in ("ELSE", "ELSEIF", "ENDIF"):
                if waiting and waiting[-1][1] == depth:
                    start, _ = waiting.pop()
                    juncture = self._juncture(start + 1, j)
                    if juncture is not None:
                        inserts.append(juncture)
                if kind == "ELSEIF":
                    waiting.append((j, depth))
        for k in reversed(inserts):
            token = tokens[k]
            point = self._point(token)
            self.diagnostics.append(
                codes.UNEXPECTED_TOKEN.at(
                    token.span,
                    expected="`then`",
                    found=f"`{token.value}`",
                    fixes=(Fix("Insert `then`", (TextEdit(point, "then "),)),),
                )
            )
            tokens.insert(k, Token("THEN", "", point, True))

    def _juncture(self, start: int, stop: int) -> int | None:
        """The last place in tokens[start:stop] where a value directly follows a value at the
        condition's own paren level (so an implicit multiplication), or None."""
        tokens = self.tokens
        depth = 0
        found = None
        for k in range(start, stop):
            kind = tokens[k].type
            if (
                depth == 0
                and k > start
                and tokens[k - 1].type in VALUE_ENDS
                and kind in VALUE_STARTS - {"MINUS", "NOT", "MISSING"}
            ):
                found = k
            if kind == "LPAR":
                depth += 1
            elif kind == "RPAR":
                depth -= 1
        return found

    def _check_name(
        self,
        token: Token,
        previous: Token | None,
        following: Token | None,
        keywords: dict[str, str],
    ) -> Token:
        name = token.value.lower()
        if following is not None and following.type == "LPAR":
            if lookup(name) is None:
                guess = suggest(name)
                fixes: tuple[Fix, ...] = ()
                if guess == "NOW":
                    text = " (did you mean `NOW`?)"
                elif guess:
                    text = f" (did you mean `{guess}`?)"
                    fixes = (
                        Fix(f"Replace with `{guess}`", (TextEdit(token.span, guess),), safe=False),
                    )
                else:
                    text = ""
                self.diagnostics.append(
                    codes.UNKNOWN_FUNCTION.at(
                        token.span, name=token.value, suggestion=text, fixes=fixes
                    )
                )
            return token
        keyword = _typos().get(name) if previous is not None else None
        if (
            keyword is not None
            and previous is not None
            and previous.type in VALUE_ENDS
            and following is not None
            and following.type in VALUE_STARTS - {"MINUS"}
        ):
            self.diagnostics.append(
                codes.KEYWORD_TYPO.at(
                    token.span,
                    found=token.value,
                    keyword=keyword,
                    fixes=(
                        Fix(
                            f"Replace with `{keyword}`",
                            (TextEdit(token.span, keyword),),
                            safe=False,
                        ),
                    ),
                )
            )
            return Token(keywords[keyword], token.value, token.span, True)
        if lookup(name) is not None:
            self.diagnostics.append(codes.FUNCTION_AS_PROPERTY.at(token.span, name=token.value))
        return token

    def _function_form_if(self, i: int) -> bool:
        """`if(c, a, b)` → `(if c then a else b)`; True when rewritten."""
        tokens = self.tokens
        depth = 0
        commas: list[int] = []
        close = -1
        for j in range(i + 1, len(tokens)):
            kind = tokens[j].type
            if kind == "LPAR":
                depth += 1
            elif kind == "RPAR":
                depth -= 1
                if depth == 0:
                    close = j
                    break
            elif kind == "COMMA" and depth == 1:
                commas.append(j)
        if not commas:
            return False
        if_token, open_paren = tokens[i], tokens[i + 1]
        end = tokens[close].span if close != -1 else tokens[-1].span
        span = if_token.span.merge(end)
        fixes: tuple[Fix, ...] = ()
        if close != -1 and len(commas) in (1, 2):
            starts = [open_paren.span.end, *(tokens[c].span.end for c in commas)]
            stops = [*(tokens[c].span.start for c in commas), tokens[close].span.start]
            parts = [self.text[a:b].strip() for a, b in zip(starts, stops, strict=True)]
            if all(parts):
                rewritten = f"if {parts[0]} then {parts[1]} " + (
                    f"else {parts[2]}" if len(parts) == 3 else "endif"
                )
                whole = span.start == 0 and span.end == len(self.text.rstrip())
                if not whole:
                    rewritten = f"({rewritten})"
                fixes = (Fix("Rewrite as `if … then … else …`", (TextEdit(span, rewritten),)),)
        self.diagnostics.append(codes.FUNCTION_FORM_IF.at(span, fixes=fixes))
        if close == -1 or len(commas) > 2:
            self.explained.append(span)
            return False
        # Rewrite the tokens so that parsing continues with the intended structure.
        rewritten_tokens = {commas[0]: Token("THEN", ",", tokens[commas[0]].span, True)}
        if len(commas) == 2:
            rewritten_tokens[commas[1]] = Token("ELSE", ",", tokens[commas[1]].span, True)
        else:
            rewritten_tokens[close] = Token("ENDIF", ")", tokens[close].span, True)
            tokens.insert(close + 1, Token("RPAR", ")", tokens[close].span, True))
        for index, replacement in rewritten_tokens.items():
            tokens[index] = replacement
        # The `(` moves in front of the `if`; it takes the `if(`'s place so that ranges of
        # the rewritten `if` start where the user's `if(` starts, never inside it.
        tokens[i] = open_paren._replace(span=if_token.span.merge(open_paren.span))
        tokens[i + 1] = if_token
        return True

    # --- feeding and recovery ---------------------------------------------------------------

    def run(self) -> Node:
        tables = _tables()
        conf = tables.conf
        state: ParserState[Any] = ParserState(conf, cast(Any, None))
        feed = cast(Callable[..., Any], state.feed_token)
        tokens = self.tokens
        count = len(tokens)
        end_offset = len(self.text)
        end_span = self.index.span(end_offset, end_offset)
        end_token = Token("$END", "", end_span)
        parens: list[Token] = []
        position = 0
        shifted_since_error = True
        while True:
            token = tokens[position] if position < count else end_token
            try:
                if position < count:
                    feed(token)
                    kind = token.type
                    if kind == "LPAR":
                        parens.append(token)
                    elif kind == "RPAR" and parens:
                        parens.pop()
                    if not token.synthetic:
                        shifted_since_error = True
                    position += 1
                    continue
                return cast(Node, feed(token, True))
            except UnexpectedToken:
                pass
            self.error_count += 1
            if self.error_count > MAX_RECOVERIES:
                self._give_up(token)
                return Missing(self.index.span(0, end_offset))
            previous = tokens[position - 1] if 0 < position <= count else None
            expected = {t for t in tables.terminals if _fits(conf, state.state_stack, (t,))}
            if (
                shifted_since_error
                and not self._after_lexical_error(previous, token)
                and not any(r.start <= token.span.start < r.end for r in self.explained)
            ):
                self._report(token, previous, expected, state, parens)
            shifted_since_error = False
            if token.type == "$END":
                return self._finish(state, token)
            for repair in _REPAIRS:
                if _fits(conf, state.state_stack, (*repair, token.type)):
                    for kind in repair:
                        synthetic = Token(
                            kind, ")" if kind == "RPAR" else "", self._point(token), True
                        )
                        feed(synthetic)
                        if kind == "RPAR" and parens:
                            parens.pop()
                    break
            else:
                position += 1  # nothing makes it fit: skip it

    def _after_lexical_error(self, previous: Token | None, token: Token) -> bool:
        low = previous.span.end if previous is not None else 0
        index = bisect.bisect_left(self.lexical_starts, low)
        return index < len(self.lexical_starts) and self.lexical_starts[index] <= token.span.start

    def _point(self, token: Token) -> Span:
        s = token.span
        return Span(s.start, s.start, s.line, s.column, s.line, s.column)

    def _finish(self, state: ParserState[Any], end: Token) -> Node:
        """At the end of the text: insert what is missing until the formula is complete."""
        conf = state.parse_conf
        closed = False
        for _ in range(4 * len(state.state_stack) + 8):
            # After a complete value a `MISSING` (or a name) would only fit as an implicit
            # multiplication, which never completes anything: the formula would grow by one
            # multiplication per round until the bound, and the tree would be lost. (A group
            # just closed is a complete value.)
            complete = closed or _fits(conf, state.state_stack, ("STAR",))
            # A `)` fits only while a `(` is open, when the end cannot: trying it first costs
            # one check per unclosed `(` instead of three.
            closed = complete and _fits(conf, state.state_stack, ("RPAR",))
            if closed:
                cast(Any, state).feed_token(Token("RPAR", ")", end.span, True))
                continue
            if _fits(conf, state.state_stack, ("$END",)):
                return cast(Node, cast(Any, state).feed_token(end, True))
            for kind in _CLOSERS if complete else _FILLERS:
                if _fits(conf, state.state_stack, (kind,)):
                    cast(Any, state).feed_token(
                        Token(kind, ")" if kind == "RPAR" else "", end.span, True)
                    )
                    break
            else:
                break
        return Missing(self.index.span(0, len(self.text)))  # pragma: no cover - defensive

    def _report(
        self,
        token: Token,
        previous: Token | None,
        expected: set[str],
        state: ParserState[Any],
        parens: list[Token],
    ) -> None:
        if self.shown >= MAX_SHOWN:
            if self.suppressed_first is None:
                self.suppressed_first = token.span
            self.hidden += 1
            return
        self.shown += 1
        self.diagnostics.append(self._diagnose(token, previous, expected, state, parens))

    def _diagnose(
        self,
        token: Token,
        previous: Token | None,
        expected: set[str],
        state: ParserState[Any],
        parens: list[Token],
    ) -> Diagnostic:
        kind = token.type
        found = _describe_token(token)
        if kind == "ENDIF" and any(
            t.type == "ELSE" for t in self.tokens if t.span.end <= token.span.start
        ):
            start = previous.span.end if previous is not None else token.span.start
            removal = self.index.span(start, token.span.end)
            remove_endif = TextEdit(removal, "")
            # `else if … endif`: the author meant one `if` with several branches (`elseif`).
            pairs = [
                (a, b)
                for a, b in zip(self.tokens, self.tokens[1:], strict=False)
                if a.type == "ELSE" and b.type == "IF" and b.span.end <= token.span.start
            ]
            if pairs:
                joins = tuple(
                    TextEdit(self.index.span(a.span.start, b.span.end), "elseif") for a, b in pairs
                )
                return codes.ELSE_WITH_ENDIF.at(
                    token.span,
                    advice="for more branches of one `if`, write `elseif` instead of `else if` "
                    "and remove `endif`",
                    fixes=(
                        Fix("Write `elseif` and remove `endif`", (*joins, remove_endif)),
                        Fix("Remove `endif`", (remove_endif,)),
                    ),
                )
            return codes.ELSE_WITH_ENDIF.at(
                token.span, advice="remove `endif`", fixes=(Fix("Remove `endif`", (remove_endif,)),)
            )
        if kind == "RPAR" and not parens:
            return codes.UNMATCHED_PARENTHESIS.at(
                token.span, fixes=(Fix("Remove this `)`", (TextEdit(token.span, ""),)),)
            )
        if kind in COMPARISONS and state.value_stack:
            top = state.value_stack[-1]
            if isinstance(top, Binary) and top.op.is_comparison and top.parens == 0:
                return codes.CHAINED_COMPARISON.at(token.span)
        if previous is not None and previous.type == "LPAR" and expected == {"NAME"}:
            before = self._token_before(previous)
            if before is not None and before.type in WRAPPERS:
                return codes.WRAPPER_NEEDS_NAME.at(
                    token.span, wrapper=before.value.lower(), found=found
                )
        if kind == "$END" and "RPAR" in expected and parens and not expected & VALUE_STARTS:
            opening = parens[-1]
            return codes.UNCLOSED_PARENTHESIS.at(
                opening.span,
                fixes=(Fix("Add `)` at the end", (TextEdit(token.span, ")"),)),),
            )
        related: tuple[Related, ...] = ()
        if "THEN" in expected and kind in ("ELSE", "ELSEIF", "ENDIF", "$END", "COMMA", "RPAR"):
            opening_if = self._open_if(token)
            if opening_if is not None:
                related = (Related(opening_if.span, "the `if` whose `then` is missing"),)
        if kind == "$END" and parens:
            related = (*related, *(Related(p.span, "this `(` is not closed") for p in parens[-3:]))
        return codes.UNEXPECTED_TOKEN.at(
            token.span,
            expected=_describe_expected(expected, previous),
            found=found,
            related=related,
        )

    def _token_before(self, token: Token) -> Token | None:
        for i, candidate in enumerate(self.tokens):
            if candidate is token:
                return self.tokens[i - 1] if i > 0 else None
        return None

    def _open_if(self, token: Token) -> Token | None:
        pending: list[Token] = []
        for candidate in self.tokens:
            if candidate.span.start >= token.span.start:
                break
            if candidate.type == "IF":
                pending.append(candidate)
            elif candidate.type == "THEN" and pending:
                pending.pop()
        return pending[-1] if pending else None

    def _give_up(self, token: Token) -> None:
        self.diagnostics.append(
            codes.TOO_MANY_ERRORS.at(token.span, count=f"{self.error_count - self.shown}+")
        )

    def finish_notes(self) -> None:
        if self.hidden and self.suppressed_first is not None:
            self.diagnostics.append(
                codes.TOO_MANY_ERRORS.at(self.suppressed_first, count=self.hidden)
            )


@functools.cache
def _typos() -> dict[str, str]:
    """Misspellings one edit away from the keywords that join or separate values."""
    table: dict[str, str] = {
        "elsif": "elseif",
        "elif": "elseif",
        "else_if": "elseif",
        "end_if": "endif",
        "endi": "endif",
        "an": "and",
        "nd": "and",
    }
    letters = "abcdefghijklmnopqrstuvwxyz_"
    reserved = set(keyword_types())
    for keyword in ("and", "xor", "then", "else", "elseif", "endif", "equals"):
        variants: set[str] = set()
        for i in range(len(keyword) + 1):
            for c in letters:
                variants.add(keyword[:i] + c + keyword[i:])  # insertion
        for i in range(len(keyword)):
            variants.add(keyword[:i] + keyword[i + 1 :])  # deletion
            for c in letters:
                variants.add(keyword[:i] + c + keyword[i + 1 :])  # substitution
        for i in range(len(keyword) - 1):
            variants.add(keyword[:i] + keyword[i + 1] + keyword[i] + keyword[i + 2 :])
        for variant in variants:
            if len(variant) >= 2 and variant not in reserved and lookup(variant) is None:
                table.setdefault(variant, keyword)
    return table


def decode(data: bytes) -> tuple[str, list[Diagnostic]]:
    """Text from bytes: UTF-8 (a BOM is dropped); invalid bytes become U+FFFD and a CF001."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        text = data.decode("utf-8", errors="replace")
        prefix = data[: error.start].decode("utf-8", errors="replace")
        index = LineIndex(text)
        span = index.span(len(prefix), len(prefix) + 1)
        return text, [
            codes.INVALID_UTF8.at(span, byte=f"0x{data[error.start]:02X}", offset=error.start)
        ]


def parse(text: str | bytes) -> ParseResult:
    """Parse a formula; returns the syntax tree and all syntax diagnostics.

    Never raises for any text. The tree is always present: where the text is broken,
    recovery puts `Missing` nodes. Anything but `str` or `bytes` is a TypeError that says so
    (rather than one from deep inside).

    >>> result = parse("if is_present(amount) then amount * 2 else 0")
    >>> result.ok
    True
    >>> [d.code for d in parse("amount + * 2").diagnostics]
    ['CF101']
    """
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"a formula is text (str or bytes), not {type(text).__name__}")
    diagnostics: list[Diagnostic] = []
    if len(text) > MAX_FORMULA:
        return _too_large(text)
    if isinstance(text, bytes):
        text, diagnostics = decode(text)
    if not text.strip():
        span = LineIndex(text).span(0, len(text))
        return ParseResult(text, Missing(span), (*diagnostics, codes.EMPTY_FORMULA.at(span)))
    tokens, lexical = tokenize(text)
    diagnostics.extend(lexical)
    state = _Parse(text, tokens, lexical)
    state.rewrite()
    tree = state.run()
    state.finish_notes()
    diagnostics.extend(state.diagnostics)
    if len(state.tokens) > MAX_DEPTH // 2:
        depth = nesting_depth(tree)
        if depth > MAX_DEPTH:
            span = state.index.span(0, len(text))
            diagnostics.append(codes.TOO_DEEP.at(span, depth=depth, limit=MAX_DEPTH))
            tree = Missing(span)
    return ParseResult(text, tree, tuple(sort_diagnostics(diagnostics)), tuple(state.tokens))


def _too_large(text: str | bytes) -> ParseResult:
    """CF003 over the first line, and nothing else: neither the text nor its lines are
    indexed, and the text is kept only as far as the diagnostic needs."""
    head = text[:MAX_FORMULA]
    if isinstance(head, bytes):
        head = head.decode("utf-8", errors="replace")
    newline = head.find("\n")
    end = newline if newline != -1 else len(head)
    span = Span(0, end, 1, 1, 1, end + 1)
    diagnostic = codes.FORMULA_TOO_LARGE.at(span, size=f"{len(text):,}", limit=f"{MAX_FORMULA:,}")
    return ParseResult(head, Missing(span), (diagnostic,))


def expected_terminals(text: str) -> set[str]:
    """The terminals that could come next after `text`, even when `text` has errors
    (tokens that do not fit are skipped). The language server completes from this."""
    tables = _tables()
    state: ParserState[Any] = ParserState(tables.conf, cast(Any, None))
    feed = cast(Callable[..., Any], state.feed_token)
    tokens, _ = tokenize(text)
    for token in tokens:
        if _fits(tables.conf, state.state_stack, (token.type,)):
            feed(token)
    return {t for t in tables.terminals if _fits(tables.conf, state.state_stack, (t,))}
