"""What both evaluators share: reading record values (decision E1), arithmetic with HubSpot's
number rules (E5), the outcome of an evaluation, and the signal that a formula cannot be
evaluated offline (E8, E9) rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from calcformula import codes
from calcformula.diagnostics import Diagnostic
from calcformula.functions import Value
from calcformula.nodes import PropertyKind
from calcformula.schema import PropertyInfo
from calcformula.span import Span
from calcformula.values import (
    DATETIME_TEXT,
    DIVISION_CONTEXT,
    EPOCH_TEXT,
    EXACT_CONTEXT,
    NUMBER_TEXT,
    WHITESPACE,
    EvaluationProblem,
)

# A record: property name -> value as HubSpot's API returns it (text), or None for empty.
# Values that are already JSON numbers or booleans are accepted too.
Record = Mapping[str, object]

EULER = Decimal(1).exp(DIVISION_CONTEXT)
MAX_EXPONENT = 1000  # numbers beyond 10^±1000 are refused rather than printed digit by digit


class NotEvaluable(Exception):
    """The formula's value cannot be known offline (portal data, unknown semantics)."""

    def __init__(self, reason: str, span: Span, code: str = "CF507") -> None:
        super().__init__(reason)
        self.reason = reason
        self.span = span
        self.code = code


class Evaluation(NamedTuple):
    """The value of a formula for one record: None is blank. When `evaluable` is False the
    value is unknown (not blank) and a diagnostic says why."""

    value: Value
    diagnostics: tuple[Diagnostic, ...] = ()
    evaluable: bool = True


_NUMBER = re.compile(NUMBER_TEXT)
_EPOCH = re.compile(EPOCH_TEXT)
_DATETIME = re.compile(DATETIME_TEXT)


def check_range(value: Decimal) -> Decimal:
    if value and abs(value.adjusted()) > MAX_EXPONENT:
        raise EvaluationProblem(f"the number {value:.3e} is out of range")
    return value


def parse_number(text: str) -> Decimal | None:
    text = text.strip(WHITESPACE)
    if not _NUMBER.fullmatch(text):
        return None
    value = Decimal(text)
    if value and abs(value.adjusted()) > MAX_EXPONENT:
        return None
    return value + 0 if value.is_zero() else value


def parse_datetime(text: str, date_only: bool = False) -> Decimal | None:
    """Epoch milliseconds from `2024-01-02`, ISO 8601 datetimes, or epoch-ms digits."""
    text = text.strip(WHITESPACE)
    if _EPOCH.fullmatch(text) and not date_only:
        return Decimal(text)
    if not _DATETIME.fullmatch(text):
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    delta = moment - epoch
    return Decimal(delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float | Decimal):
        return str(raw)
    if isinstance(raw, str):
        return raw
    return None


# Decision T2a: HubSpot reads a checkbox read bare as blank even when it is ticked, and
# `coalesce(flag, -99)` stayed blank too, so blank is not the whole story; rather than guess
# what each formula around it gives, such a read is not evaluated.
_BARE_CHECKBOX = (
    "`{name}` is a checkbox read as a number; HubSpot gives blank for it even through "
    "`coalesce(…)` (decision T2a), so calcformula does not guess; write `bool({name})`"
)


class Reader:
    """Reads one property of a record in one way (bare, string(), bool(), timestamp())."""

    __slots__ = ("info", "kind", "name", "span")

    def __init__(self, name: str, kind: PropertyKind, info: PropertyInfo | None, span: Span):
        self.name = name
        self.kind = kind
        self.info = info
        self.span = span

    def read(self, record: Record, sink: list[Diagnostic] | None) -> Value:
        if self.kind is PropertyKind.TIMESTAMP:
            key = f"timestamp({self.name})"
            if key not in record:
                raise NotEvaluable(
                    f"`{key}` is the time `{self.name}` last changed, which the record does not "
                    f"carry; add a `{key}` value (epoch ms or ISO 8601)",
                    self.span,
                )
            changed = _text(record.get(key))
            if changed is None or changed.strip(WHITESPACE) == "":
                return None
            moment = parse_datetime(changed)
            return None if moment is None else str(moment)
        info = self.info
        if (
            self.kind is PropertyKind.NUMBER
            and info is not None
            and info.reads_as is PropertyKind.BOOL
        ):
            raise NotEvaluable(_BARE_CHECKBOX.format(name=self.name), self.span)
        raw = record.get(self.name)
        text = _text(raw)
        if text is None:
            if raw is not None and sink is not None:
                self._unreadable(repr(raw), sink)
            return None
        if self.kind is PropertyKind.STRING:
            return text if text != "" else None
        if text.strip(WHITESPACE) == "":
            return None
        if self.kind is PropertyKind.BOOL:
            lowered = text.strip(WHITESPACE).lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            return self._unreadable(text, sink)
        info = self.info
        if info is not None and info.is_date:
            moment = parse_datetime(
                text,
                date_only=info.type == "date"
                and "T" not in text
                and not _EPOCH.fullmatch(text.strip(WHITESPACE)),
            )
            return moment if moment is not None else self._unreadable(text, sink)
        number = parse_number(text)
        if number is None and info is None:
            number = parse_datetime(text)  # no schema: a date value in a bare reference
        return number if number is not None else self._unreadable(text, sink)

    def _unreadable(self, text: str, sink: list[Diagnostic] | None) -> Value:
        if sink is not None:
            kind = {PropertyKind.NUMBER: "a number", PropertyKind.BOOL: "true or false"}.get(
                self.kind, "text"
            )
            if self.info is not None and self.info.is_date:
                kind = f"a {self.info.type}"
            shown = text if len(text) <= 40 else text[:39] + "…"
            sink.append(
                codes.UNREADABLE_VALUE.at(
                    self.span,
                    value=f"`{shown}`",
                    name=self.name,
                    type=kind,
                    context=(("property", self.name),),
                )
            )
        return None


def add(a: Decimal, b: Decimal) -> Decimal:
    return EXACT_CONTEXT.add(a, b)


def subtract(a: Decimal, b: Decimal) -> Decimal:
    return EXACT_CONTEXT.subtract(a, b)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    try:
        return check_range(EXACT_CONTEXT.multiply(a, b))
    except decimal.DecimalException:
        raise EvaluationProblem("the product is out of range") from None


def divide(a: Decimal, b: Decimal) -> Decimal | None:
    """None for a zero divisor (decision E5); 34 significant digits, half-even."""
    if b.is_zero():
        return None
    try:
        return check_range(DIVISION_CONTEXT.divide(a, b))
    except decimal.DecimalException:
        raise EvaluationProblem("the quotient is out of range") from None


def problem_diagnostic(problem: EvaluationProblem, span: Span) -> Diagnostic:
    entry = codes.CODES.get(problem.code, codes.EVALUATION_PROBLEM)
    return entry.at(span, message=problem.message)


def fast_reader(
    name: str, kind: PropertyKind, info: PropertyInfo | None, span: Span
) -> Callable[[Record, list[Diagnostic]], Value]:
    """A reader specialised for one property: the common case (text that is a plain number,
    ordinary text, true/false) takes a few C calls; anything else goes to `Reader.read`, so
    the answers are the same."""
    general = Reader(name, kind, info, span).read
    if kind is PropertyKind.NUMBER and info is not None and info.reads_as is PropertyKind.BOOL:
        return general  # a checkbox read bare: not evaluable (T2a)
    if kind is PropertyKind.NUMBER and (info is None or not info.is_date):
        low, high = -MAX_EXPONENT, MAX_EXPONENT

        def read_number(record: Record, sink: list[Diagnostic]) -> Value:
            raw = record.get(name)
            if raw is None or raw == "":
                return None
            if raw.__class__ is str and "_" not in raw and raw.isascii() and raw.isprintable():
                try:
                    value = Decimal(raw)
                except InvalidOperation:
                    return general(record, sink)
                if value.is_finite() and (not value or low <= value.adjusted() <= high):
                    return value
            return general(record, sink)

        return read_number
    if kind is PropertyKind.STRING:

        def read_text(record: Record, sink: list[Diagnostic]) -> Value:
            raw = record.get(name)
            if raw.__class__ is str:
                return raw if raw != "" else None
            return None if raw is None else general(record, sink)

        return read_text
    if kind is PropertyKind.BOOL:

        def read_bool(record: Record, sink: list[Diagnostic]) -> Value:
            raw = record.get(name)
            if raw == "true":
                return True
            if raw == "false":
                return False
            return None if raw is None or raw == "" else general(record, sink)

        return read_bool
    return general


def times_reporting(span: Span) -> Callable[[Decimal, Decimal, list[Diagnostic]], Value]:
    """Exact multiplication; a product out of range is blank with a diagnostic."""

    def times(a: Decimal, b: Decimal, sink: list[Diagnostic]) -> Value:
        try:
            return multiply(a, b)
        except EvaluationProblem as problem:
            sink.append(problem_diagnostic(problem, span))
            return None

    return times


def divide_reporting(
    span: Span, divisor: Span
) -> Callable[[Decimal, Decimal, list[Diagnostic]], Value]:
    """Division (decision E5); a zero divisor is blank with a note for the record."""

    def quotient(a: Decimal, b: Decimal, sink: list[Diagnostic]) -> Value:
        try:
            result = divide(a, b)
        except EvaluationProblem as problem:
            sink.append(problem_diagnostic(problem, span))
            return None
        if result is None:
            sink.append(codes.RUNTIME_DIVISION_BY_ZERO.at(divisor))
        return result

    return quotient


def function_runner(
    implementation: Callable[[Sequence[Value], Any], Value], context: Any, span: Span
) -> Callable[[Sequence[Value], list[Diagnostic]], Value]:
    """Calls a registry implementation: a problem is blank with a diagnostic; missing portal
    data makes the whole formula not evaluable (decision E8)."""

    def run(values: Sequence[Value], sink: list[Diagnostic]) -> Value:
        try:
            return implementation(values, context)
        except EvaluationProblem as problem:
            if problem.code in ("CF505", "CF507"):  # unknown offline, or here
                raise NotEvaluable(problem.message, span, problem.code) from None
            sink.append(problem_diagnostic(problem, span))
            return None

    return run
