"""The catalogue of diagnostic codes: wording, severity, documentation and evidence.

Each code has exactly one message template, so the same mistake always reads the same way
(the cel-go discipline), and one documentation entry, which `docs/diagnostics.md` and
`calcformula explain` are generated from. Codes are stable: never renumber or reuse one.

Ranges: CF0xx input, CF1xx syntax, CF2xx names and functions, CF3xx types,
CF4xx lint (likely not what the author meant), CF5xx evaluation, CF6xx the manifest,
CF7xx SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from calcformula.diagnostics import Diagnostic, Fix, Related, Severity
from calcformula.span import Span


class Basis(enum.Enum):
    """What an error rests on (the severity principle: an error only where HubSpot is
    documented or field-tested to reject the formula, or it cannot mean anything)."""

    DOCUMENTED = "documented"  # HubSpot's documentation says it is invalid
    FIELD_TESTED = "field-tested"  # HubSpot answered 4xx in a recorded test (`source` names it)
    REASONED = "reasoned"  # it cannot mean anything (or it is calcformula's own refusal)


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    name: str
    severity: Severity
    template: str
    summary: str
    evidence: str
    example: str = ""  # a formula that triggers it ("" where the trigger is not a formula)
    basis: Basis | None = None  # required for errors (tests/test_docs.py checks it)
    source: str = ""  # for FIELD_TESTED: where the test is recorded

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
    *,
    basis: Basis | None = None,
    source: str = "",
) -> Code:
    if code in CODES:
        raise ValueError(f"duplicate diagnostic code {code}")
    entry = Code(code, name, severity, template, summary, evidence, example, basis, source)
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
    basis=Basis.REASONED,
)
EMPTY_FORMULA = _code(
    "CF002",
    "empty-formula",
    ERROR,
    "the formula is empty",
    "A calculation property needs a formula; HubSpot has nothing to compute from an empty one.",
    "Inferred: the grammar has no empty formula.",
    " ",
    basis=Basis.REASONED,
)
FORMULA_TOO_LARGE = _code(
    "CF003",
    "formula-too-large",
    ERROR,
    "the formula is {size} characters long; calcformula reads at most {limit}",
    "Formulas past the limit are refused before they are parsed, so that a huge file (or a "
    "document in the editor) cannot hold the checker, the language server or CI for long or "
    "fill its memory. Real calculation formulas are a few hundred characters.",
    "Inferred: calcformula's own limit (docs/language.md, Limits); HubSpot documents none.",
    basis=Basis.REASONED,
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
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spikes: HTTP 400 'Unable to parse calculation formula … "
        "expected' (corpus 55, 57)"
    ),
)
UNEXPECTED_CHARACTER = _code(
    "CF102",
    "unexpected-character",
    ERROR,
    "unexpected character {found}",
    "A character that is not part of the language. HubSpot's lexer stops at it.",
    "Field test: an illegal character such as `{` is reported by HubSpot at its column.",
    "amount # 2",
    basis=Basis.FIELD_TESTED,
    source="AusGTM/lightning-visuals-n8n spike: `{` reported by HubSpot at its column (corpus 57)",
)
UNTERMINATED_STRING = _code(
    "CF103",
    "unterminated-string",
    ERROR,
    "this string is never closed; add {quote} where it should end",
    "A string literal starts here and no matching quote follows.",
    "Documented: strings are enclosed in single or double quotes.",
    "'open",
    basis=Basis.REASONED,
)
UNCLOSED_PARENTHESIS = _code(
    "CF104",
    "unclosed-parenthesis",
    ERROR,
    "this `(` is never closed",
    "An opening parenthesis has no matching `)` before the formula ends.",
    "Grammar: parentheses must balance.",
    "max(a, (b + 1)",
    basis=Basis.REASONED,
)
UNMATCHED_PARENTHESIS = _code(
    "CF105",
    "unmatched-parenthesis",
    ERROR,
    "this `)` has no matching `(`",
    "A closing parenthesis without an opening one.",
    "Grammar: parentheses must balance.",
    "(a + b))",
    basis=Basis.REASONED,
)
ELSE_WITH_ENDIF = _code(
    "CF106",
    "else-with-endif",
    ERROR,
    "`endif` cannot follow `else`: `endif` replaces `else` when no value is wanted; {advice}",
    "`endif` is an alternative to `else`, not a terminator that follows it. "
    "`if c then a else b endif` is rejected; write `if c then a else b`.",
    "Field test: `else … endif` returned HTTP 400 (TIER-DERIVATION-SPIKE); the docs describe "
    "`endif` as closing an `if` early.",
    "if bool(active) then 100 else 0 endif",
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n .planning/TIER-DERIVATION-SPIKE-2026-08-13.md: `else … "
        "endif` returned HTTP 400"
    ),
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
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spike: `if(gambling_score, gambling_score, 0)` returned "
        "HTTP 400 (corpus 54)"
    ),
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
    basis=Basis.REASONED,
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
    basis=Basis.REASONED,
)
BRACES = _code(
    "CF110",
    "braces",
    ERROR,
    "braces are not part of the formula language; write `if condition then value else value`",
    "Block braces `{ }` do not exist; the branches of an `if` follow `then` and `else`.",
    "Field test: `if (is_present(x)) { x } else { 0 }` returned HTTP 400 at the `{`.",
    "if (is_present(x)) { x } else { 0 }",
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spike: brace blocks returned HTTP 400 at the `{` (corpus 57)"
    ),
)
CHAINED_COMPARISON = _code(
    "CF111",
    "chained-comparison",
    ERROR,
    "comparisons do not chain; write `a < b and b < c`",
    "A comparison's result is a boolean and cannot be compared again with `<`, `=` and so on.",
    "Decision S4: comparison is non-associative.",
    "1 < a < 10",
    basis=Basis.REASONED,
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
    basis=Basis.REASONED,
)
NOW_WITH_PARENTHESES = _code(
    "CF113",
    "now-with-parentheses",
    ERROR,
    "`NOW` takes no parentheses; write `NOW`",
    "`NOW` is a keyword, not a function. HubSpot's parser lists it with the values, like `e`.",
    "Parser token list ([PARSER]); inferred that `()` after it is an empty group.",
    "NOW() - createdate",
    basis=Basis.REASONED,
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
    basis=Basis.REASONED,
)
TOO_DEEP = _code(
    "CF115",
    "too-deeply-nested",
    ERROR,
    "the formula nests {depth} levels deep; calcformula handles at most {limit}",
    "Formulas nested this deeply are not checked. HubSpot documents no limit; "
    "split the formula or flatten it.",
    "Inferred; a resource limit like cel-go's MaxRecursionDepth.",
    basis=Basis.REASONED,
)
DECIMAL_WITHOUT_DIGIT = _code(
    "CF116",
    "leading-decimal-point",
    ERROR,
    "a number must start with a digit; write `{replacement}`",
    "Decimals are written with a digit before the point.",
    "Documented literal syntax shows `1.5589`, `150.652`.",
    "amount * .5",
    basis=Basis.REASONED,
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
    basis=Basis.REASONED,
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
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spike: `ifnull(gambling_score, 0)` returned HTTP 400 "
        "(corpus 55)"
    ),
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
    basis=Basis.REASONED,
)
UNKNOWN_PROPERTY = _code(
    "CF203",
    "unknown-property",
    ERROR,
    "unknown property `{name}`{suggestion}",
    "The schema has no property of this name on this object.",
    "API facts (session 2): HubSpot answers 404 when a formula names a property the portal "
    "does not have.",
    basis=Basis.FIELD_TESTED,
    source=(
        "scopiousdigital/kalup live runs and AusGTM/lightning-visuals-n8n: a formula naming a "
        "property the portal lacks answers HTTP 404"
    ),
)
WRONG_REFERENCE = _code(
    "CF204",
    "wrong-reference-kind",
    INFO,
    "`{name}` is {article} {ptype} property read as {read}: the formula sees its stored text "
    "read that way; `{reference}` reads it as {ptype}",
    "A bare name reads a number (or date) property, `string(name)` a text-like property "
    "(string, enumeration, phone number), `bool(name)` a boolean. HubSpot accepts any of the "
    "three for any property, and one property may be read several ways in one formula; the "
    "value is the property's text read the way the wrapper says (blank where it cannot be). "
    "Only a clash of the resulting types (CF301, CF303, CF304, CF305) is an error.",
    'Decision T2 (revised): `if is_present(score) then string(score) else ""` (score a '
    "number) was accepted (201) in the AusGTM spike; a bare enumeration compared with text was "
    "rejected, but for the type clash (CF303).",
)
CHECKBOX_AS_NUMBER = _code(
    "CF205",
    "checkbox-read-as-number",
    WARNING,
    "`{name}` is a checkbox read as a number: HubSpot accepts this but reads it as blank even "
    "when the box is ticked; write `bool({name})`",
    "A bare name reads a number. HubSpot accepts a checkbox (bool) property read that way, "
    "but at run time it is blank whether or not the box is ticked, so the formula never sees "
    "it. Where the number is then used as a condition or next to a boolean, the type clash is "
    "an error of its own (CF304, CF305).",
    "Decision T2a. AusGTM phase 50: `coalesce(flag, -99)` gave blank for a ticked box and six "
    "of six flagged companies never took the flag's branch; the formula itself was accepted.",
)
NAME_TWO_KINDS = _code(
    "CF206",
    "name-read-two-ways",
    WARNING,
    "`{name}` is read as {first} here and as {second} at {where}; only one of them can be its type",
    "Without a schema calcformula trusts names. HubSpot accepts one property read several "
    "ways, but only the read that matches its type sees its value as stored. A warning where "
    "one read is a boolean (a checkbox read bare is always blank, T2a), else an info.",
    "Decision T2 (revised): `bool(flag)` and `flag = 1` in one portal were both accepted "
    "(AusGTM tier spike).",
)
UNKNOWN_SEMANTICS = _code(
    "CF207",
    "unknown-function-semantics",
    INFO,
    "the arguments and meaning of `{name}` are not documented; calcformula accepts the call "
    "without checking it and cannot evaluate it",
    "HubSpot's parser knows the function, but nothing says what it takes or computes.",
    "Decision E9; HubSpot's parser token list.",
    "date(x)",
)
TARGET_VARIABLE = _code(
    "CF208",
    "target-variable",
    INFO,
    "`TARGET` belongs to property validation rules; its meaning in a calculation is unknown",
    "HubSpot's parser knows `TARGET` (a 'target property' variable), which appears to serve "
    "validation rules that share this parser.",
    "Parser token list; AST node *_TARGET_PROPERTY_VARIABLE.",
    "TARGET > 0",
)
ARGUMENT_COUNT = _code(
    "CF209",
    "argument-count",
    ERROR,
    "`{name}` takes {expected} argument{plural}, got {got}: `{signature}`",
    "The function was called with the wrong number of arguments.",
    "Documented arities (max/min/concatenate: 2 to 100); inferred for the others.",
    "max(a)",
    basis=Basis.REASONED,
)
TARGET_PROPERTY = _code(
    "CF210",
    "target-property",
    ERROR,
    "`{found}` reads a property of another object; a calculation can read only its own "
    "object's properties: write `{name}` if this object has it",
    "`TARGET.name` points at another object's property. HubSpot refuses it: a calculation "
    "property reads the properties of the record it belongs to.",
    "API facts (session 2): `TARGET.x` is refused.",
    "TARGET.amount > 0",
    basis=Basis.FIELD_TESTED,
    source="scopiousdigital/kalup live runs and AusGTM/lightning-visuals-n8n: `TARGET.x` refused",
)
OPERAND_TYPE = _code(
    "CF301",
    "operand-type",
    ERROR,
    "`{op}` needs {expected}, but {side} is {actual}{hint}",
    "An operator was given a value of the wrong type.",
    "Field tests: HubSpot rejects such formulas with 400 'Sub-expression output type: X is "
    "not compatible with input type: Y'. Decision T3.",
    "'a' - 1",
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spike v2: 400 'Sub-expression output type: X is not "
        "compatible with input type: Y'; `is_present(x) * x` rejected"
    ),
)
TEXT_PLUS_NUMBER = _code(
    "CF302",
    "text-plus-number",
    ERROR,
    "`+` cannot join text and a number; {advice}",
    "`+` adds two numbers or joins two texts; nothing is converted implicitly.",
    "Documented: '\"Number of cars: \" + num_cars' is invalid; use number_to_string(num_cars).",
    "'Number of cars: ' + num_cars",
    basis=Basis.DOCUMENTED,
    source="HubSpot's properties guide: '\"Number of cars: \" + num_cars' is invalid (corpus 27)",
)
COMPARE_TYPES = _code(
    "CF303",
    "compare-types",
    ERROR,
    "`{op}` compares two numbers or two texts, not {left} and {right}{hint}",
    "Equality needs both sides of the same type.",
    "Field test: a bare enumeration compared with a string returned 400 ('String is not "
    "compatible with input type: BigDecimal'). Decision T3.",
    "lv_org_type = 'club'",
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spike: a bare enumeration compared with text returned 400"
        " 'String is not compatible with input type: BigDecimal'"
    ),
)
CONDITION_TYPE = _code(
    "CF304",
    "condition-type",
    ERROR,
    "{what} must be true or false, but this is {actual}{hint}",
    "Conditions and the operands of and/or/xor/not are booleans.",
    "Field test: a bare checkbox as a condition returned 400 ('output type: BigDecimal is not "
    "compatible with input type: Boolean'). Decisions T3, T4.",
    "if amount then 1 else 0",
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spike v2: a bare checkbox as a condition returned 400 "
        "'BigDecimal is not compatible with input type: Boolean'"
    ),
)
ARGUMENT_TYPE = _code(
    "CF305",
    "argument-type",
    ERROR,
    "argument {index} of `{name}` ({param}) must be {expected}, not {actual}{hint}",
    "A function was given an argument of the wrong type.",
    "Field test: `coalesce(flag, false)` with a bare (number) flag returned 400 ('Boolean is "
    "not compatible with BigDecimal').",
    "contains(amount, 'x')",
    basis=Basis.FIELD_TESTED,
    source=(
        "AusGTM/lightning-visuals-n8n spike v2: `coalesce(flag, false)` returned 400 'Boolean "
        "is not compatible with BigDecimal' (corpus 59)"
    ),
)
BLANK_STRING_BRANCH = _code(
    "CF306",
    "blank-string-branch",
    ERROR,
    "`''` in a {type} formula: use `endif` to leave the value blank",
    "A branch that returns the empty text to mean 'blank' has the wrong type in a number or "
    "boolean formula. `endif` instead of `else` leaves the value blank.",
    "Field test: a custom number property with a string/blank `else` was rejected with 400; "
    "HubSpot replaced exactly this (`else ''` → `endif`) in its own number and boolean "
    "defaults in July 2026. HubSpot-defined properties carried it before (corpus 42).",
    "if is_present(a) then 1 else ''",
    basis=Basis.FIELD_TESTED,
    source=(
        "ANAM project notes (portal 19893546): a custom number property with a string/blank "
        "`else` returned 400"
    ),
)
BRANCH_TYPES = _code(
    "CF307",
    "branch-types",
    ERROR,
    "the branches of this `if` give {types}; every branch must give the same type",
    "HubSpot types each `if` (IF_NUMBER, IF_STRING, IF_BOOLEAN); all branches must agree.",
    "HubSpot's syntax-tree model; decision T4.",
    "if a > 1 then 'big' else 0",
    basis=Basis.REASONED,
)
RESULT_TYPE = _code(
    "CF308",
    "result-type",
    ERROR,
    "the formula gives {actual}, but the property is {declared}",
    "A calculation property's formula must give its declared type.",
    "Decision T4; HubSpot checks types when the property is saved.",
    basis=Basis.REASONED,
)
NOT_AN_OPTION = _code(
    "CF309",
    "not-an-option",
    WARNING,
    "{value} is not an option of this enumeration property (options: {options})",
    "An enumeration formula returns text that must be one of the property's option values.",
    "Decision T5 (assumed): HubSpot's own calculated enumerations return option values. "
    "Whether HubSpot rejects a value that is not an option is untested (formula-language.md "
    "§10), so this is a warning: such a value would not show as any option.",
)
UNGUARDED_BLANK = _code(
    "CF401",
    "unguarded-blank",
    WARNING,
    "if {names} {verb} blank, the whole result is blank; {advice}",
    "A blank property blanks every arithmetic it takes part in. Where a formula combines "
    "several properties, one empty value leaves the whole result empty.",
    "Field test: a five-term sum read blank for 63 of 66 records because one term was empty; "
    "`coalesce(x, 0)` fixed it.",
    "org_type_score + gambling_score",
)
BLANK_CONDITION = _code(
    "CF402",
    "blank-condition",
    WARNING,
    "if `{name}` is blank, this condition is blank and so is the whole `if` (it does not fall "
    "to `else`); test `is_present({reference})` first",
    "A condition that reads a blank property is blank, and a blank condition blanks the whole "
    "`if` rather than choosing `else`.",
    "Field test: `if score >= 70 then 'A' … else 'Unscored'` stayed blank for a record with "
    "no score. Decision E4.",
    "if score >= 70 then 'A' else 'Unscored'",
)
AMBIGUOUS_PRECEDENCE = _code(
    "CF403",
    "ambiguous-precedence",
    WARNING,
    "HubSpot documents no operator precedence: `{text}` is read as `{explicit}`; add "
    "parentheses to say what you mean",
    "`+`/`-` mixed with `*`/`/` without parentheses. calcformula reads `*` and `/` first, as "
    "usual, but one of HubSpot's own defaults only makes sense read left to right.",
    "HubSpot's company `days_to_close` is `round_down(closedate - createdate / 86400000, 0)`; "
    "its deal and contact twins parenthesise. Decision S4.",
    "closedate - createdate / 86400000",
)
DIVISION_BY_ZERO = _code(
    "CF404",
    "division-by-zero",
    WARNING,
    "division by zero: the result is always blank",
    "Dividing by a literal zero gives a blank result.",
    "Decision E5 (assumed).",
    "amount / 0",
)
BOOLEAN_EQUALITY = _code(
    "CF405",
    "boolean-equality",
    WARNING,
    "`{op}` between two booleans: HubSpot's syntax tree has no boolean equality; "
    "write `{alternative}`",
    "HubSpot models `=` only for numbers and texts; compare booleans with `xor`.",
    "HubSpot's syntax-tree model has NUMBER_EQUALS and STRING_EQUALS only. Decision T3.",
    "bool(a) = bool(b)",
)
EULER_SHADOWS = _code(
    "CF406",
    "euler-shadows-property",
    WARNING,
    "`e` is Euler's number here; the property `e` cannot be read in a formula",
    "`e` is a keyword (Euler's number), so a property named `e` is unreachable.",
    "Parser token list; AST node EULER.",
)

# --- CF5xx: evaluation -------------------------------------------------------------------------

EVALUATION_PROBLEM = _code(
    "CF501",
    "evaluation-problem",
    WARNING,
    "{message}; the value is blank",
    "A function could not compute a value for this record (for example `sqrt` of a negative "
    "number); as in HubSpot, the result of that part is blank.",
    "Decision E2 (assumed for each function, see docs/functions.md).",
)
NOT_A_NUMBER = _code(
    "CF502",
    "text-not-a-number",
    WARNING,
    "{message}; the value is blank",
    "`string_to_number` was given text that is not a number.",
    "Assumed; HubSpot does not document it.",
)
SUBSTRING_RANGE = _code(
    "CF503",
    "substring-range",
    WARNING,
    "{message}; the value is blank",
    "A `substring` position lies outside the text.",
    "Assumed: Java's substring fails for such positions.",
)
REGEX_PROBLEM = _code(
    "CF504",
    "regex-problem",
    WARNING,
    "{message}; the value is blank",
    "The regular expression is invalid or refused (nested repetition can run for ever).",
    "Decision E7 (assumed).",
)
NEEDS_PORTAL_DATA = _code(
    "CF505",
    "needs-portal-data",
    INFO,
    "{message}",
    "The function reads pipelines or currencies. Pass a portal-context file "
    "(docs/portal-context.md) to evaluate it; without one, calcformula does not guess.",
    "Decision E8.",
)
UNREADABLE_VALUE = _code(
    "CF506",
    "unreadable-value",
    WARNING,
    "{value} in `{name}` cannot be read as {type}; the formula sees a blank",
    "A record's value does not fit the property's type.",
    "Decision E1.",
)
NOT_EVALUABLE = _code(
    "CF507",
    "not-evaluable",
    INFO,
    "cannot be evaluated offline: {reason}",
    "The formula uses something whose meaning is unknown; calcformula reports it rather than "
    "guess.",
    "Decision E9.",
)
RUNTIME_DIVISION_BY_ZERO = _code(
    "CF508",
    "runtime-division-by-zero",
    INFO,
    "division by zero for this record; the value is blank",
    "The divisor is zero for this record, so the result of the division is blank.",
    "Decision E5 (assumed).",
)

# --- CF6xx: the manifest (calcformula.yaml) --------------------------------------------------

MANIFEST_SYNTAX = _code(
    "CF601",
    "manifest-yaml",
    ERROR,
    "not valid YAML: {problem}",
    "calcformula.yaml could not be read as YAML.",
    "YAML 1.1 as PyYAML reads it.",
    basis=Basis.REASONED,
)
MANIFEST_UNKNOWN_KEY = _code(
    "CF602",
    "manifest-unknown-key",
    ERROR,
    "unknown key `{key}`{suggestion}; allowed here: {allowed}",
    "A key the manifest does not define; usually a typo that would otherwise be ignored.",
    "The manifest format in docs/manifest.md.",
    basis=Basis.REASONED,
)
MANIFEST_MISSING = _code(
    "CF603",
    "manifest-missing-field",
    ERROR,
    "{what} needs `{key}`",
    "A required field is missing.",
    "The manifest format in docs/manifest.md.",
    basis=Basis.REASONED,
)
MANIFEST_BAD_NAME = _code(
    "CF604",
    "manifest-bad-name",
    ERROR,
    "`{name}` is not a valid HubSpot {what} name: {reason}",
    "HubSpot internal names are lower-case letters, digits and `_`, start with a letter and "
    "have at most 100 characters.",
    "HubSpot Properties API: property names (docs/push.md).",
    basis=Basis.REASONED,
)
MANIFEST_BAD_VALUE = _code(
    "CF605",
    "manifest-bad-value",
    ERROR,
    "`{key}` must be {expected}, not {actual}",
    "A field has a value of the wrong kind.",
    "The manifest format in docs/manifest.md.",
    basis=Basis.REASONED,
)
MANIFEST_DUPLICATE = _code(
    "CF606",
    "manifest-duplicate",
    ERROR,
    "`{name}` on {object} is defined twice",
    "Two entries manage the same property.",
    "A property is identified by object and name.",
    basis=Basis.REASONED,
)
MANIFEST_FILE = _code(
    "CF607",
    "manifest-file",
    ERROR,
    "{problem}",
    "A file named by the manifest (formula_file, schema, portal) cannot be used.",
    "The manifest format in docs/manifest.md.",
    basis=Basis.REASONED,
)

# CF620-CF629: the manifest's safety and structure (files outside the project, duplicate
# keys, limits, cycles).
MANIFEST_OUTSIDE = _code(
    "CF620",
    "manifest-path-outside",
    ERROR,
    "`{key}` `{value}` {reason}; a manifest names only files inside its own folder, so nothing "
    "was read",
    "A manifest may name only files inside the folder that holds it (after following symbolic "
    "links): no absolute paths, no `..` that leaves the folder, no link pointing out of it. A "
    "manifest arrives in pull requests that anyone can open, and calcformula runs them in CI "
    "with a token in the environment; a path such as `/proc/self/environ` must never be read.",
    'Security: docs/manifest.md, "Paths".',
    basis=Basis.REASONED,
)
MANIFEST_DUPLICATE_KEY = _code(
    "CF621",
    "manifest-duplicate-key",
    ERROR,
    "`{key}` appears twice in this mapping (first at line {line}); YAML would keep only the last",
    "A key written twice in one mapping: YAML readers silently keep the last value, so the first "
    "one (for example a list of properties that `push --prune` then archives) is lost.",
    "YAML 1.2 requires unique keys; PyYAML accepts duplicates and keeps the last.",
    basis=Basis.REASONED,
)
MANIFEST_LIMIT = _code(
    "CF622",
    "manifest-too-large",
    ERROR,
    "the manifest {what}; the limit is {limit}",
    "calcformula reads manifests up to 1 MiB that nest at most 64 levels deep; larger or "
    "deeper ones are refused instead of exhausting memory or the stack.",
    "The limits in docs/manifest.md.",
    basis=Basis.REASONED,
)
MANIFEST_ROLLUP = _code(
    "CF623",
    "manifest-rollup",
    ERROR,
    "`calculation_rollup` properties cannot be created through HubSpot's API (it makes every "
    "property with a formula `calculation_equation`); manage rollups in HubSpot's property "
    "editor, or use `field_type: calculation_equation`",
    "HubSpot's API creates only custom equations: a property sent with `calculationFormula` "
    "becomes `calculation_equation` whatever `fieldType` says.",
    'Field-tested: decisions.md, "API facts".',
    basis=Basis.FIELD_TESTED,
    source="decisions.md, API facts (session 2): calculation_rollup cannot be created via the API",
)
MANIFEST_CYCLE = _code(
    "CF624",
    "manifest-cycle",
    ERROR,
    "calculation properties read each other in a cycle: {cycle}",
    "A calculation property whose formula reads another managed calculation property that reads "
    "it back, directly or through others, has no value to start from.",
    "Reasoned: each value needs the other first.",
    basis=Basis.REASONED,
)
MANIFEST_UNKNOWN_OBJECT = _code(
    "CF625",
    "manifest-unknown-object",
    WARNING,
    "unknown object `{name}`{suggestion}",
    "The object is neither a HubSpot standard object nor one with a schema file, and a known "
    "object has a close name: probably a typo. Custom objects with unrelated names are accepted.",
    "HubSpot's standard object names (CRM API).",
)

# --- CF7xx: SQL -----------------------------------------------------------------------------

SQL_UNSUPPORTED = _code(
    "CF701",
    "sql-unsupported",
    ERROR,
    "{what} cannot be written in {dialect} SQL with calcformula's meaning: {reason}",
    "Part of the formula has no SQL that computes what the evaluator computes (portal data, "
    "regular expressions, functions of unknown meaning, `timestamp(x)`, numbers the dialect's "
    "decimal type cannot hold). calcformula refuses rather than emit SQL that means something "
    "else; evaluate such formulas with `calcformula eval --engine python`.",
    "docs/scale.md lists what each dialect can compute.",
    "regex_matches(string(phone), '[0-9]+')",
    basis=Basis.REASONED,
)
SQL_TOO_LARGE = _code(
    "CF702",
    "sql-too-large",
    ERROR,
    "the formula's SQL would have {size} nodes (the limit is {limit})",
    "Some functions repeat their arguments in SQL (a NULL check, then the value), so deeply "
    "nested calls grow the SQL quickly. Past the limit calcformula refuses rather than hand an "
    "engine a query it may choke on.",
    "docs/scale.md.",
    basis=Basis.REASONED,
)
