"""The function registry: the one place that knows each function of the language.

An entry holds the signature (parameter types and arity), the result type, how blanks flow
through it, its documentation with examples and their expected results, the evidence for all
of this, and the implementation where the semantics are known. The parser (known names), the
checker (signatures), the evaluator and compiler (implementations), the language server
(completion, hover, signature help) and `docs/functions.md` all read this registry.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlglot import exp

    from calcformula.dialects import Dialect
    from calcformula.evaluator.context import EvalContext, PortalContext

# A runtime value: exact number, text, boolean, or None for blank.
Value = Decimal | str | bool | None


class Type(enum.Enum):
    """Static types of the language (decision T1); DATETIME is a number flavour for hovers."""

    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    ANY = "any"  # accepts every type (is_present); also the checker's "unknown"
    SAME = "same"  # the type of the first argument (coalesce)
    DATETIME = "datetime"  # a number holding epoch milliseconds (checker only)
    ERROR = "error"  # the checker's type of a node already reported: absorbs follow-on errors

    @property
    def is_number(self) -> bool:
        return self in (Type.NUMBER, Type.DATETIME)

    @property
    def words(self) -> str:
        """How messages name the type."""
        return _TYPE_WORDS[self]


_TYPE_WORDS = {
    Type.NUMBER: "a number",
    Type.STRING: "text",
    Type.BOOL: "a boolean",
    Type.ANY: "a value of any type",
    Type.SAME: "the same type",
    Type.DATETIME: "a date (a number of milliseconds)",
    Type.ERROR: "an error",
}


class Evidence(enum.Enum):
    DOCUMENTED = "documented"  # in HubSpot's developer documentation
    USED_BY_HUBSPOT = "used by HubSpot"  # in HubSpot's own default properties
    INFERRED = "inferred"  # name in HubSpot's parser, meaning inferred from AST/spec
    UNKNOWN = "unknown"  # name in HubSpot's parser only


class Blanks(enum.Enum):
    """How blank (null) arguments flow (decision E2)."""

    PROPAGATE = "a blank argument gives a blank result"
    ABSORB = "never blank; blank arguments are part of the answer"
    SKIP = "blank arguments are skipped"
    FALLBACK = "a blank first argument gives the second"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Type
    doc: str = ""
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Example:
    formula: str
    result: str  # the expected result as printed: 5, 'text', true, (blank)
    record: tuple[tuple[str, str], ...] = ()  # property values as HubSpot returns them


Implementation = Callable[[Sequence[Value], "EvalContext"], Value]


# What a function's SQL translation may use. calcformula.sql implements these protocols and
# calls the translations; defining them here keeps the imports one way (the SQL compiler
# imports the registry, never the reverse, not even for types). sqlglot is named only for the
# type checker: the parser and the language server load this module and never load sqlglot.
class SqlBuilderHooks(Protocol):
    """The dialect-aware building blocks a translation may call (calcformula.sql.SqlBuilder)."""

    @property
    def dialect(self) -> Dialect: ...

    def power_of_ten(self, places: int) -> exp.Expr:
        """10 to the power `places`, as an exact literal."""
        ...

    def number(self, value: exp.Expr) -> exp.Expr:
        """The value in the dialect's exact-number type."""
        ...

    def whole(self, value: exp.Expr) -> exp.Expr:
        """True when the number is a whole number."""
        ...

    def round_product(self, value: exp.Expr, places: int) -> exp.Expr | None:
        """A product rounded half up once from its exact value, where the dialect has one."""
        ...

    def trim(self, text: exp.Expr) -> exp.Expr:
        """Strips the whitespace the evaluator strips."""
        ...

    def text_of_number(self, value: exp.Expr) -> exp.Expr:
        """`number_to_string`'s text of a number."""
        ...

    def number_of_text(self, text: exp.Expr, dates: bool | None) -> exp.Expr:
        """A number read from text as the evaluator reads it."""
        ...

    @property
    def portal(self) -> PortalContext | None:
        """Pipelines and currencies to write into the SQL as constants (None: not given)."""
        ...


class SqlCall(Protocol):
    """One function call being translated: its SQL arguments and what the checker knew."""

    @property
    def builder(self) -> SqlBuilderHooks: ...

    @property
    def args(self) -> list[exp.Expr]: ...

    @property
    def types(self) -> list[Type]: ...

    @property
    def dialect(self) -> str: ...

    def constant(self, index: int) -> Decimal | None:
        """The argument's value when it is a number written in the formula."""
        ...

    def propagating(self, result: exp.Expr) -> exp.Expr:
        """NULL when any argument is NULL, else `result`."""
        ...

    def unsupported(self, reason: str) -> Exception:
        """The exception to raise when this call has no faithful SQL in the dialect."""
        ...

    def case(
        self, *pairs: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None
    ) -> exp.Expr: ...

    def is_null(self, value: exp.Expr) -> exp.Expr: ...

    def string(self, text: str) -> exp.Expr: ...

    def integer(self, value: int) -> exp.Expr: ...

    def paren(self, value: exp.Expr) -> exp.Expr: ...


# Writes a call in SQL with the same semantics (calcformula.sql); returns a sqlglot expression.
SqlTranslation = Callable[[SqlCall], Any]


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    family: str
    params: tuple[Param, ...]
    result: Type
    summary: str
    evidence: Evidence
    blanks: Blanks = Blanks.PROPAGATE
    examples: tuple[Example, ...] = ()
    variadic: bool = False  # the last parameter repeats
    max_args: int | None = None  # for variadic functions
    known_signature: bool = True  # False: parameters and arity are not known (decision E9)
    needs_portal: str | None = None  # what portal data it reads (decision E8)
    implementation: Implementation | None = field(default=None, compare=False)
    notes: str = ""  # what is assumed, in words for the docs and hovers
    sql: SqlTranslation | None = field(default=None, compare=False)
    sql_note: str = ""  # why there is no SQL, or how the SQL differs (docs/scale.md)
    # Given each argument's value when it is a string literal (else None): the arguments the
    # checker reports as CF504, with why (regex_matches refuses patterns it cannot run).
    check_literals: Callable[[Sequence[str | None]], Iterable[tuple[int, str]]] | None = field(
        default=None, compare=False
    )
    # Given the arguments after the first when each is a number written in the formula: a
    # callable computing the call from its first argument (not blank) with the same answer as
    # `implementation`, cheaper per record, or None. Where it cannot decide it raises
    # ArithmeticError, and the compiled formula calls `implementation` for that record.
    specialize: Callable[[Sequence[Decimal]], Callable[[Value], Value] | None] | None = field(
        default=None, compare=False
    )

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if not p.optional)

    @property
    def arity_text(self) -> str:
        if not self.known_signature:
            return "unknown"
        if self.variadic:
            return f"{self.min_args} to {self.max_args}"
        if self.min_args == len(self.params):
            return str(len(self.params))
        return f"{self.min_args} to {len(self.params)}"

    def accepts_count(self, count: int) -> bool:
        if not self.known_signature:
            return True
        if self.variadic:
            return self.min_args <= count <= (self.max_args or count)
        return self.min_args <= count <= len(self.params)

    def param_type(self, index: int) -> Type:
        if not self.known_signature or not self.params:
            return Type.ANY
        if index < len(self.params):
            return self.params[index].type
        return self.params[-1].type if self.variadic else Type.ANY

    @property
    def signature(self) -> str:
        if not self.known_signature:
            return f"{self.name}(…) -> {self.result.value}"
        parts = []
        for p in self.params:
            text = f"{p.name}: {p.type.value}"
            parts.append(f"[{text}]" if p.optional else text)
        if self.variadic:
            parts.append("…")
        return f"{self.name}({', '.join(parts)}) -> {self.result.value}"


REGISTRY: dict[str, Function] = {}

# Names from other formula languages (the UI editor, spreadsheets, SQL) and what to write instead.
ALIASES: dict[str, str] = {
    "is_known": "is_present",
    "isknown": "is_present",
    "ifnull": "coalesce",
    "isnull": "is_blank",
    "nvl": "coalesce",
    "len": "string_length",
    "length": "string_length",
    "upper": "to_upper_case",
    "lower": "to_lower_case",
    "concat": "concatenate",
    "round": "round_nearest",
    "floor": "round_down",
    "ceil": "round_up",
    "ceiling": "round_up",
    "pow": "power",
    "mid": "substring",
    "substr": "substring",
    "startswith": "begins_with",
    "starts_with": "begins_with",
    "days_between": "time_between",
    "datediff": "time_between",
    "today": "NOW",
    "now": "NOW",
    "tostring": "number_to_string",
    "to_string": "number_to_string",
    "tonumber": "string_to_number",
    "to_number": "string_to_number",
    "value": "string_to_number",
}


def define(function: Function) -> Function:
    if function.name in REGISTRY:
        raise ValueError(f"function {function.name} defined twice")
    REGISTRY[function.name] = function
    return function


def lookup(name: str) -> Function | None:
    """The function of that name (case-insensitive), or None."""
    return REGISTRY.get(name.lower())


def suggest(name: str) -> str | None:
    """The function (or keyword) a user most likely meant by an unknown name."""
    lowered = name.lower()
    if lowered in ALIASES:
        return ALIASES[lowered]
    close = difflib.get_close_matches(lowered, list(REGISTRY), n=1, cutoff=0.75)
    return close[0] if close else None
