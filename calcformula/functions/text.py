"""Text functions: conversion, joining, searching, case, length, substrings, names and phones."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from calcformula.functions.registry import (
    Blanks,
    Evidence,
    Example,
    Function,
    Param,
    SqlCall,
    Type,
    Value,
    define,
)
from calcformula.values import NUMBER_TEXT, WHITESPACE, EvaluationProblem, format_number

if TYPE_CHECKING:
    from calcformula.evaluator.context import EvalContext

N, S, B = Type.NUMBER, Type.STRING, Type.BOOL

# Longest pattern and text regex_matches runs (RE2's time is linear in both).
REGEX_MAX_PATTERN = 1000
REGEX_MAX_SUBJECT = 65536


def _text(value: Value) -> str:
    assert isinstance(value, str)
    return value


def _number_to_string(args: Sequence[Value], context: EvalContext) -> Value:
    value = args[0]
    assert isinstance(value, Decimal)
    return format_number(value)


_NUMBER_TEXT = re.compile(NUMBER_TEXT)


def _string_to_number(args: Sequence[Value], context: EvalContext) -> Value:
    text = _text(args[0]).strip(WHITESPACE)
    if not _NUMBER_TEXT.fullmatch(text):
        raise EvaluationProblem(f"{text!r} is not a number", code="CF502")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise EvaluationProblem(f"{text!r} is not a number", code="CF502") from None


def _sql_number_to_string(call: SqlCall) -> Any:
    return call.builder.text_of_number(call.args[0])


def _sql_string_to_number(call: SqlCall) -> Any:
    return call.builder.number_of_text(call.args[0], dates=False)


define(
    Function(
        "number_to_string",
        "text",
        (Param("value", N),),
        S,
        "The number as text, without exponent or trailing zeros.",
        Evidence.DOCUMENTED,
        examples=(
            Example(
                "'Number of cars: ' + number_to_string(num_cars)",
                "'Number of cars: 3'",
                (("num_cars", "3"),),
            ),
            Example("number_to_string(2.50)", "'2.5'"),
        ),
        implementation=_number_to_string,
        sql=_sql_number_to_string,
        notes="The text format is assumed (decision E6).",
    )
)
define(
    Function(
        "string_to_number",
        "text",
        (Param("text", S),),
        N,
        "The number written in the text; text that is not a number gives blank.",
        Evidence.DOCUMENTED,
        examples=(
            Example("string_to_number('42.5') + 1", "43.5"),
            Example("string_to_number('n/a')", "(blank)"),
            Example(
                "string_to_number(timestamp(dealstage))",
                "1704067200000",
                (("timestamp(dealstage)", "1704067200000"),),
            ),
        ),
        implementation=_string_to_number,
        sql=_sql_string_to_number,
        notes="Non-numeric text giving blank is assumed; HubSpot does not document it.",
    )
)


def _concatenate(args: Sequence[Value], context: EvalContext) -> Value:
    return "".join(_text(a) for a in args)


def _sql_concatenate(call: SqlCall) -> Any:
    from sqlglot import exp

    joined = call.paren(call.args[0])
    for part in call.args[1:]:
        joined = exp.DPipe(this=joined, expression=call.paren(part), safe=True)
    return joined


define(
    Function(
        "concatenate",
        "text",
        (Param("a", S), Param("b", S)),
        S,
        "Joins 2 to 100 strings.",
        Evidence.DOCUMENTED,
        variadic=True,
        max_args=100,
        examples=(
            Example(
                "concatenate('a', 'b', string(a), string(b))", "'abxy'", (("a", "x"), ("b", "y"))
            ),
        ),
        implementation=_concatenate,
        sql=_sql_concatenate,
        notes="A blank argument blanks the result (decision E2, assumed).",
    )
)


def _contains(args: Sequence[Value], context: EvalContext) -> Value:
    return _text(args[1]) in _text(args[0])


def _begins_with(args: Sequence[Value], context: EvalContext) -> Value:
    return _text(args[0]).startswith(_text(args[1]))


def _sql_contains(call: SqlCall) -> Any:
    from sqlglot import exp

    text, part = call.args
    return exp.GT(this=exp.StrPosition(this=text, substr=part), expression=call.integer(0))


def _sql_begins_with(call: SqlCall) -> Any:
    from sqlglot import exp

    return exp.StartsWith(this=call.args[0], expression=call.args[1])


define(
    Function(
        "contains",
        "text",
        (Param("text", S), Param("part", S)),
        B,
        "True when `part` occurs in `text` (case-sensitive).",
        Evidence.DOCUMENTED,
        examples=(
            Example("contains('hello', 'ello')", "true"),
            Example("contains('ello', 'hello')", "false"),
        ),
        implementation=_contains,
        sql=_sql_contains,
        notes="Case sensitivity follows decision S1 (string contents keep case).",
    )
)
define(
    Function(
        "begins_with",
        "text",
        (Param("text", S), Param("prefix", S)),
        B,
        "True when `text` starts with `prefix` (case-sensitive).",
        Evidence.INFERRED,
        examples=(Example("begins_with('+4930', '+')", "true"),),
        implementation=_begins_with,
        sql=_sql_begins_with,
    )
)


def _lower(args: Sequence[Value], context: EvalContext) -> Value:
    return _text(args[0]).lower()


def _upper(args: Sequence[Value], context: EvalContext) -> Value:
    return _text(args[0]).upper()


def _length(args: Sequence[Value], context: EvalContext) -> Value:
    return Decimal(len(_text(args[0])))


CASE_NOTE = "Case mapping follows the engine (PostgreSQL: its locale); ß and the like may differ."


def _sql_lower(call: SqlCall) -> Any:
    from sqlglot import exp

    return exp.Lower(this=call.args[0])


def _sql_upper(call: SqlCall) -> Any:
    from sqlglot import exp

    return exp.Upper(this=call.args[0])


def _sql_length(call: SqlCall) -> Any:
    from sqlglot import exp

    return call.builder.number(exp.Length(this=call.args[0]))


define(
    Function(
        "to_lower_case",
        "text",
        (Param("text", S),),
        S,
        "The text in lower case.",
        Evidence.INFERRED,
        examples=(Example("to_lower_case('HubSpot')", "'hubspot'"),),
        implementation=_lower,
        sql=_sql_lower,
        sql_note=CASE_NOTE,
    )
)
define(
    Function(
        "to_upper_case",
        "text",
        (Param("text", S),),
        S,
        "The text in upper case.",
        Evidence.INFERRED,
        examples=(Example("to_upper_case('HubSpot')", "'HUBSPOT'"),),
        implementation=_upper,
        sql=_sql_upper,
        sql_note=CASE_NOTE,
    )
)
define(
    Function(
        "string_length",
        "text",
        (Param("text", S),),
        N,
        "The number of characters.",
        Evidence.INFERRED,
        examples=(Example("string_length('hello')", "5"),),
        implementation=_length,
        sql=_sql_length,
        notes="Counts Unicode code points (assumed; Java counts UTF-16 units).",
    )
)


def _substring(args: Sequence[Value], context: EvalContext) -> Value:
    text = _text(args[0])
    start = args[1]
    assert isinstance(start, Decimal)
    end: Decimal = args[2] if len(args) > 2 and isinstance(args[2], Decimal) else Decimal(len(text))
    if start != start.to_integral_value() or end != end.to_integral_value():
        raise EvaluationProblem("substring positions must be whole numbers")
    if not 0 <= start <= end <= len(text):
        raise EvaluationProblem(
            f"substring({start}, {end}) is outside text of length {len(text)}", code="CF503"
        )
    return text[int(start) : int(end)]


def _sql_substring(call: SqlCall) -> Any:
    from sqlglot import exp

    b = call.builder
    text, start = call.args[0], call.args[1]
    end = call.args[2] if len(call.args) > 2 else b.number(exp.Length(this=text.copy()))
    inside = exp.and_(
        b.whole(start),
        b.whole(end),
        exp.GTE(this=start.copy(), expression=call.integer(0)),
        exp.LTE(this=start.copy(), expression=end.copy()),
        exp.LTE(this=end.copy(), expression=exp.Length(this=text.copy())),
    )
    integer = exp.DataType.build("INT")
    part = exp.Substring(
        this=text.copy(),
        start=exp.Cast(this=exp.Add(this=start.copy(), expression=call.integer(1)), to=integer),
        length=exp.Cast(this=exp.Sub(this=end.copy(), expression=start.copy()), to=integer.copy()),
    )
    return call.case((inside, part))


define(
    Function(
        "substring",
        "text",
        (
            Param("text", S),
            Param("start", N, "0-based position of the first character"),
            Param("end", N, "0-based position after the last character", optional=True),
        ),
        S,
        "The part of `text` from `start` up to, not including, `end` (or to the end).",
        Evidence.USED_BY_HUBSPOT,
        examples=(
            Example("substring('+4930', 0, 1)", "'+'"),
            Example("substring('+4930', 1)", "'4930'"),
            Example("substring('abc', 2, 5)", "(blank)"),
        ),
        implementation=_substring,
        sql=_sql_substring,
        notes="0-based with an exclusive end (decision E7, assumed, as Java's substring); "
        "positions outside the text give blank, as Java's would fail.",
    )
)


def _java_only(pattern: str) -> str | None:
    """What `pattern` uses that RE2 cannot run, or that RE2 would read differently from Java
    (a class intersection or a nested class compiles in RE2 with another meaning)."""
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            following = pattern[i + 1 : i + 2]
            if not in_class and following.isdigit() and following != "0":
                return "back-references (`\\1`) need backtracking"
            if following == "k" and pattern[i + 2 : i + 3] == "<":
                return "back-references (`\\k<name>`) need backtracking"
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[":
                return (
                    "a class inside a class (`[a[b]]`, `[[:alpha:]]`) means another thing in Java"
                )
            elif pattern.startswith("&&", i):
                return "class intersection (`&&`) is Java-only"
        elif c == "[":
            in_class = True
            # `]` first in a class (also after `^`) is a literal `]`.
            i += 2 if pattern[i + 1 : i + 2] == "]" else 1
            if pattern[i - 1] == "[" and pattern[i : i + 2] == "^]":
                i += 2
            continue
        elif pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            return "lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`) needs backtracking"
        elif pattern.startswith("(?>", i):
            return "atomic groups (`(?>`) need backtracking"
        i += 1
    return None


# Where google-re2 cannot be installed (Pyodide, in the browser playground), regex_matches
# is not evaluable: its value is unknown, never a guess from another regex engine.
NO_RE2 = "regex_matches needs google-re2 (RE2), which is not available here"


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    """The pattern compiled by RE2, or the reason it cannot be (a string)."""
    if len(pattern) > REGEX_MAX_PATTERN:
        return f"the pattern is longer than {REGEX_MAX_PATTERN} characters"
    reason = _java_only(pattern)
    if reason is not None:
        return f"calcformula (RE2, linear time) cannot run the pattern as Java would: {reason}"
    try:
        import re2  # google-re2: imported on first use, it is only needed here
    except ImportError:  # the browser playground: Pyodide has no google-re2
        return NO_RE2

    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the reason is reported instead
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        detail = error.args[0] if error.args else error
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return f"invalid or unsupported regular expression: {detail}"


def regex_problem(pattern: str) -> str | None:
    """Why regex_matches cannot run `pattern`, or None when it can."""
    compiled = _compiled(pattern)
    if compiled is NO_RE2:
        return None  # not a problem of the pattern; evaluation says it is not evaluable
    return compiled if isinstance(compiled, str) else None


def _regex_matches(args: Sequence[Value], context: EvalContext) -> Value:
    text, pattern = _text(args[0]), _text(args[1])
    if len(text) > REGEX_MAX_SUBJECT:
        raise EvaluationProblem(
            f"the text is longer than {REGEX_MAX_SUBJECT} characters", code="CF504"
        )
    compiled = _compiled(pattern)
    if compiled is NO_RE2:
        raise EvaluationProblem(compiled, code="CF507")
    if isinstance(compiled, str):
        raise EvaluationProblem(compiled, code="CF504")
    return compiled.fullmatch(text) is not None


def _check_regex(literals: Sequence[str | None]) -> Iterable[tuple[int, str]]:
    pattern = literals[1] if len(literals) > 1 else None
    if pattern is not None:
        problem = regex_problem(pattern)
        if problem is not None:
            yield 1, problem


define(
    Function(
        "regex_matches",
        "text",
        (Param("text", S), Param("pattern", S)),
        B,
        "True when the whole text matches the regular expression.",
        Evidence.UNKNOWN,
        examples=(
            Example("regex_matches('AB-123', '[A-Z]+-[0-9]+')", "true"),
            Example("regex_matches('xAB-123', '[A-Z]+-[0-9]+')", "false"),
        ),
        implementation=_regex_matches,
        check_literals=_check_regex,
        sql_note="Regular-expression dialects differ between RE2, Java and each SQL engine; "
        "there is no faithful SQL.",
        notes="Assumed (decision E7): whole-string match, Java-like syntax. Patterns run on "
        "RE2, whose time is linear in the text, so no pattern can hang a check or an "
        "evaluation. What needs backtracking (back-references `\\1`, lookaround `(?=`, "
        "atomic groups, possessive `*+`) and what RE2 reads differently from Java (class "
        "intersection `&&`, a class inside a class) is refused with CF504, by the checker "
        "when the pattern is a literal; the value is then blank, never a guess. Java's `\\s` "
        "also matches a vertical tab, RE2's does not.",
    )
)


def _set_contains(args: Sequence[Value], context: EvalContext) -> Value:
    return _text(args[1]) in {part.strip(WHITESPACE) for part in _text(args[0]).split(";")}


_SET_CONTAINS_SQL = {
    "duckdb": "LIST_CONTAINS(LIST_TRANSFORM(STRING_SPLIT(:s, ';'), x -> TRIM(x, :w)), :v)",
    "postgres": "EXISTS(SELECT 1 FROM UNNEST(STRING_TO_ARRAY(:s, ';')) AS p(x) "
    "WHERE TRIM(BOTH :w FROM x) = :v)",
    # SPLIT's pattern is a regular expression; `;` means itself. Databricks shares it.
    "spark": "ARRAY_CONTAINS(TRANSFORM(SPLIT(:s, ';'), x -> TRIM(BOTH :w FROM x)), :v)",
}


def _sql_set_contains(call: SqlCall) -> Any:
    import sqlglot
    from sqlglot import exp

    template = _SET_CONTAINS_SQL.get("spark" if call.dialect == "databricks" else call.dialect)
    if template is None:
        raise call.unsupported(f"calcformula has no tested list functions for {call.dialect}")
    values, value = call.args
    tree = exp.replace_placeholders(
        sqlglot.parse_one(template, dialect=call.dialect),
        s=values.copy(),
        v=value.copy(),
        w=call.string(WHITESPACE),
    )
    return call.propagating(tree)


define(
    Function(
        "set_contains_string",
        "text",
        (Param("values", S, "a multi-select value"), Param("value", S)),
        B,
        "True when the `;`-separated multi-select value includes `value`.",
        Evidence.INFERRED,
        examples=(Example("set_contains_string(string(tags), 'b')", "true", (("tags", "a;b;c"),)),),
        implementation=_set_contains,
        sql=_sql_set_contains,
        sql_note="DuckDB, PostgreSQL and Spark/Databricks only.",
        notes="Multi-select semantics assumed (decision E7).",
    )
)


def _full_name(args: Sequence[Value], context: EvalContext) -> Value:
    parts = [a.strip(WHITESPACE) for a in args if isinstance(a, str) and a.strip(WHITESPACE)]
    return " ".join(parts) if parts else None


def _sql_full_name(call: SqlCall) -> Any:
    from sqlglot import exp

    first, last = (
        exp.Nullif(this=call.builder.trim(part), expression=call.string("")) for part in call.args
    )
    both = exp.DPipe(
        this=exp.DPipe(this=first.copy(), expression=call.string(" "), safe=True),
        expression=last.copy(),
        safe=True,
    )
    return call.case(
        (call.is_null(first), last.copy()), (call.is_null(last), first.copy()), default=both
    )


define(
    Function(
        "format_full_name",
        "text",
        (Param("first", S), Param("last", S)),
        S,
        "First and last name joined with one space; a blank part is skipped.",
        Evidence.USED_BY_HUBSPOT,
        blanks=Blanks.SKIP,
        examples=(
            Example(
                "format_full_name(string(firstname), string(lastname))",
                "'Ada Lovelace'",
                (("firstname", "Ada"), ("lastname", "Lovelace")),
            ),
            Example(
                "format_full_name(string(firstname), string(lastname))",
                "'Ada'",
                (("firstname", "Ada"), ("lastname", "")),
            ),
        ),
        implementation=_full_name,
        sql=_sql_full_name,
        notes="HubSpot's version is probably locale-aware; this joining is assumed (decision E7).",
    )
)
define(
    Function(
        "format_phone_number",
        "text",
        (Param("phone", S),),
        S,
        "HubSpot's display format of a phone number; the format is not documented.",
        Evidence.USED_BY_HUBSPOT,
    )
)
define(
    Function(
        "format_searchable_phone_number",
        "text",
        (Param("phone", S),),
        S,
        "HubSpot's searchable form of a phone number; the format is not documented.",
        Evidence.USED_BY_HUBSPOT,
    )
)
