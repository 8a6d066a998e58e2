"""The catalogue of diagnostic codes: wording, severity, documentation and evidence.

Each code has exactly one message template, so the same mistake always reads the same way
(the cel-go discipline), and one documentation entry, which `docs/diagnostics.md` and
`calcformula explain` are generated from. Codes are stable: never renumber or reuse one.

Ranges: CF0xx input, CF1xx syntax, CF2xx names and functions, CF3xx types,
CF4xx lint (likely not what the author meant), CF5xx evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from calcformula.diagnostics import Diagnostic, Fix, Related, Severity
from calcformula.span import Span


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    name: str
    severity: Severity
    template: str
    summary: str
    evidence: str
    example: str = ""  # a formula that triggers it ("" where the trigger is not a formula)

    def at(
        self,
        span: Span,
        *,
        fixes: tuple[Fix, ...] = (),
        related: tuple[Related, ...] = (),
        severity: Severity | None = None,
        context: tuple[tuple[str, str], ...] = (),
        **values: object,
    ) -> Diagnostic:
        """A diagnostic of this code at `span`, its message filled from `values`."""
        return Diagnostic(
            code=self.code,
            severity=severity or self.severity,
            message=self.template.format(**values),
            span=span,
            fixes=fixes,
            related=related,
            context=context,
        )


CODES: dict[str, Code] = {}


def _code(
    code: str,
    name: str,
    severity: Severity,
    template: str,
    summary: str,
    evidence: str,
    example: str = "",
) -> Code:
    if code in CODES:
        raise ValueError(f"duplicate diagnostic code {code}")
    entry = Code(code, name, severity, template, summary, evidence, example)
    CODES[code] = entry
    return entry


ERROR, WARNING, INFO, HINT = Severity.ERROR, Severity.WARNING, Severity.INFO, Severity.HINT

# --- CF0xx: input --------------------------------------------------------------------------

INVALID_UTF8 = _code(
    "CF001",
    "invalid-utf8",
    ERROR,
    "the input is not valid UTF-8 (byte {byte} at offset {offset})",
    "The formula text could not be decoded as UTF-8. HubSpot's API takes JSON, which is Unicode.",
    "JSON (RFC 8259) text exchanged between systems must be UTF-8.",
)
EMPTY_FORMULA = _code(
    "CF002",
    "empty-formula",
    ERROR,
    "the formula is empty",
    "A calculation property needs a formula; HubSpot has nothing to compute from an empty one.",
    "Inferred: the grammar has no empty formula.",
    " ",
)

# --- CF1xx: syntax -------------------------------------------------------------------------

UNEXPECTED_TOKEN = _code(
    "CF101",
    "unexpected-token",
    ERROR,
    "expected {expected}, found {found}",
    "The parser met something that cannot stand here. The message lists what could.",
    "HubSpot answers 400 'Unable to parse calculation formula' with the alternatives it expected.",
    "amount + * 2",
)
UNEXPECTED_CHARACTER = _code(
    "CF102",
    "unexpected-character",
    ERROR,
    "unexpected character {found}",
    "A character that is not part of the language. HubSpot's lexer stops at it.",
    "Field test: an illegal character such as `{` is reported by HubSpot at its column.",
    "amount # 2",
)
UNTERMINATED_STRING = _code(
    "CF103",
    "unterminated-string",
    ERROR,
    "this string is never closed; add {quote} where it should end",
    "A string literal starts here and no matching quote follows.",
    "Documented: strings are enclosed in single or double quotes.",
    "'open",
)
UNCLOSED_PARENTHESIS = _code(
    "CF104",
    "unclosed-parenthesis",
    ERROR,
    "this `(` is never closed",
    "An opening parenthesis has no matching `)` before the formula ends.",
    "Grammar: parentheses must balance.",
    "max(a, (b + 1)",
)
UNMATCHED_PARENTHESIS = _code(
    "CF105",
    "unmatched-parenthesis",
    ERROR,
    "this `)` has no matching `(`",
    "A closing parenthesis without an opening one.",
    "Grammar: parentheses must balance.",
    "(a + b))",
)
ELSE_WITH_ENDIF = _code(
    "CF106",
    "else-with-endif",
    ERROR,
    "`endif` cannot follow `else`: `endif` replaces `else` when no value is wanted; remove `endif`",
    "`endif` is an alternative to `else`, not a terminator that follows it. "
    "`if c then a else b endif` is rejected; write `if c then a else b`.",
    "Field test: `else … endif` returned HTTP 400 (TIER-DERIVATION-SPIKE); the docs describe "
    "`endif` as closing an `if` early.",
    "if bool(active) then 100 else 0 endif",
)
FUNCTION_FORM_IF = _code(
    "CF107",
    "function-form-if",
    ERROR,
    "`if(condition, a, b)` is the HubSpot UI editor's syntax; in a calculationFormula write "
    "`if condition then a else b`",
    "The UI custom-equation editor uses a function-style `if`; the Properties API does not.",
    "Field test: a formula with `if(gambling_score, gambling_score, 0)` returned HTTP 400.",
    "if(is_present(a), a, 0)",
)
UI_PROPERTY_REFERENCE = _code(
    "CF108",
    "ui-property-reference",
    ERROR,
    "`{found}` is the UI editor's property syntax; in a calculationFormula write `{name}`",
    "`[properties.name]` references belong to the UI editor. The API reads a property by its "
    "bare internal name (a number), or through `string(name)` / `bool(name)`.",
    "Field reports: UI formulas pasted into calculationFormula return HTTP 400.",
    "[properties.amount] * 2",
)
UI_OPERATOR = _code(
    "CF109",
    "foreign-operator",
    ERROR,
    "`{found}` is not an operator in HubSpot formulas; write {replacement}",
    "Operators from other languages (`&&`, `||`, `==`, `<>`, `!`, `^`, `&`) have "
    "word or function equivalents.",
    "Documented operator table; field reports of UI-editor syntax rejected by the API.",
    "a > 1 && b > 1",
)
BRACES = _code(
    "CF110",
    "braces",
    ERROR,
    "braces are not part of the formula language; write `if condition then value else value`",
    "Block braces `{ }` do not exist; the branches of an `if` follow `then` and `else`.",
    "Field test: `if (is_present(x)) { x } else { 0 }` returned HTTP 400 at the `{`.",
    "if (is_present(x)) { x } else { 0 }",
)
CHAINED_COMPARISON = _code(
    "CF111",
    "chained-comparison",
    ERROR,
    "comparisons do not chain; write `a < b and b < c`",
    "A comparison's result is a boolean and cannot be compared again with `<`, `=` and so on.",
    "Decision S4: comparison is non-associative.",
    "1 < a < 10",
)
KEYWORD_TYPO = _code(
    "CF112",
    "keyword-typo",
    ERROR,
    "`{found}` is read as a property multiplied into the formula; did you mean `{keyword}`?",
    "A name that looks like a misspelt keyword stands between two values, so it would be "
    "multiplied in (implicit multiplication). This is almost always a typo.",
    "The documentation's own advanced example has `an` for `and`.",
    "is_present(a) an a >= 1",
)
NOW_WITH_PARENTHESES = _code(
    "CF113",
    "now-with-parentheses",
    ERROR,
    "`NOW` takes no parentheses; write `NOW`",
    "`NOW` is a keyword, not a function. HubSpot's parser lists it with the values, like `e`.",
    "Parser token list ([PARSER]); inferred that `()` after it is an empty group.",
    "NOW() - createdate",
)
WRAPPER_NEEDS_NAME = _code(
    "CF114",
    "wrapper-needs-property",
    ERROR,
    "`{wrapper}(…)` takes a property name, found {found}",
    "`string(…)`, `bool(…)` and `timestamp(…)` read a property; they do not convert values. "
    "Use `number_to_string(…)` to turn a number into text.",
    "Documented property syntax; the parser lists these as tokens, not functions.",
    "string(1 + 2)",
)
TOO_DEEP = _code(
    "CF115",
    "too-deeply-nested",
    ERROR,
    "the formula nests {depth} levels deep; calcformula handles at most {limit}",
    "Formulas nested this deeply are not checked. HubSpot documents no limit; "
    "split the formula or flatten it.",
    "Inferred; a resource limit like cel-go's MaxRecursionDepth.",
)
DECIMAL_WITHOUT_DIGIT = _code(
    "CF116",
    "leading-decimal-point",
    ERROR,
    "a number must start with a digit; write `{replacement}`",
    "Decimals are written with a digit before the point.",
    "Documented literal syntax shows `1.5589`, `150.652`.",
    "amount * .5",
)
TYPOGRAPHIC_QUOTE = _code(
    "CF117",
    "typographic-quote",
    ERROR,
    "{found} is a typographic quote; strings use ' or \"",
    "Curly quotes come from word processors and web pages; the formula language only knows "
    "straight quotes.",
    "Documented literal syntax.",
    "string(x) = ‘yes’",
)
TOO_MANY_ERRORS = _code(
    "CF199",
    "more-errors",
    INFO,
    "{count} more syntax errors are not shown",
    "Only the first syntax errors are reported; fix them and check again.",
    "Error cap, as cel-go's 'N more errors were truncated'.",
)

# --- CF2xx: names and functions -------------------------------------------------------------

UNKNOWN_FUNCTION = _code(
    "CF201",
    "unknown-function",
    ERROR,
    "unknown function `{name}`{suggestion}",
    "A name directly followed by `(` is a function call, and HubSpot knows no function of this "
    "name. (HubSpot itself would read `name(x)` as a property times `(x)`; that is almost "
    "never what was meant, so calcformula reports it.)",
    "Decision S3; the parser's own list of 54 function names; field test: `ifnull(x, 0)` "
    "returned HTTP 400.",
    "ifnull(score, 0)",
)
FUNCTION_AS_PROPERTY = _code(
    "CF202",
    "function-name-as-property",
    ERROR,
    "`{name}` is a function name and cannot be read as a property; call it as `{name}(…)`",
    "HubSpot's lexer reads function names as tokens, so a property of that name cannot be "
    "referenced.",
    "Parser token list: function names are keywords.",
    "max + 1",
)
