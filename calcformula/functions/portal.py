"""Functions that read portal data: pipelines, currencies, emails and engagements (decision E8).

They evaluate from a portal-context file when one is given; otherwise the evaluator reports
"needs portal data" for the record. Those whose meaning is unknown are never evaluated.
In SQL, the portal context is written into the query as constants (a `CASE` over stage ids,
lists of currency codes); without one, the call has no SQL (CF701).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from calcformula.functions.registry import (
    Evidence,
    Example,
    Function,
    Param,
    SqlCall,
    Type,
    Value,
    define,
)
from calcformula.values import EvaluationProblem

if TYPE_CHECKING:
    from calcformula.evaluator.context import EvalContext, PortalContext, Stage

N, S, B = Type.NUMBER, Type.STRING, Type.BOOL


def _portal(context: EvalContext, what: str) -> PortalContext:
    if context.portal is None:
        raise EvaluationProblem(f"needs portal data ({what}); pass a portal context", code="CF505")
    return context.portal


def _stage(args: Sequence[Value], context: EvalContext) -> Stage:
    stage_id = args[0]
    assert isinstance(stage_id, str)
    stage = _portal(context, "pipelines").stages.get(stage_id)
    if stage is None:
        raise EvaluationProblem(
            f"stage {stage_id!r} is not in the portal context's pipelines", code="CF505"
        )
    return stage


def _pipeline_probability(args: Sequence[Value], context: EvalContext) -> Value:
    return _stage(args, context).probability


def _is_stage_closed(args: Sequence[Value], context: EvalContext) -> Value:
    return _stage(args, context).closed


def _home_currency(args: Sequence[Value], context: EvalContext) -> Value:
    return _portal(context, "currencies").home_currency


def _enabled_currency(args: Sequence[Value], context: EvalContext) -> Value:
    code = args[0]
    assert isinstance(code, str)
    portal = _portal(context, "currencies")
    return code.upper() in {c.upper() for c in portal.enabled_currencies}


def _multicurrency(args: Sequence[Value], context: EvalContext) -> Value:
    return _portal(context, "currencies").multicurrency


def _sql_portal(call: SqlCall, what: str) -> PortalContext:
    portal = call.builder.portal
    if portal is None:
        raise call.unsupported(
            f"it reads portal data ({what}); pass a portal context to write it into the SQL"
        )
    return portal


def _sql_stage(attribute: str) -> Any:
    """A `CASE` over the portal context's stage ids; a stage it does not list is blank (the
    evaluator reports it, CF505)."""

    def translate(call: SqlCall) -> Any:
        from sqlglot import exp

        from calcformula.values import format_number

        stages = _sql_portal(call, "pipelines").stages.values()
        b = call.builder
        pairs: list[Any] = []
        for stage in sorted(stages, key=lambda s: s.id):
            value = getattr(stage, attribute)
            if value is None:
                continue
            if attribute == "probability":
                result = b.number(exp.Literal.number(format_number(value)))
            else:
                result = exp.true() if value else exp.false()
            pairs.append(exp.If(this=call.string(stage.id), true=result))
        blank = b.number(exp.Null()) if attribute == "probability" else exp.Null()
        if not pairs:
            return blank
        return exp.Case(this=call.args[0], ifs=pairs, default=blank)

    return translate


def _sql_home_currency(call: SqlCall) -> Any:
    from sqlglot import exp

    home = _sql_portal(call, "currencies").home_currency
    return exp.Null() if home is None else call.string(home)


def _sql_enabled_currency(call: SqlCall) -> Any:
    from sqlglot import exp

    enabled = sorted({c.upper() for c in _sql_portal(call, "currencies").enabled_currencies})
    code = exp.Upper(this=call.args[0])
    if not enabled:
        return call.case((call.is_null(call.args[0]), exp.Null()), default=exp.false())
    return exp.In(this=code, expressions=[call.string(c) for c in enabled])


def _sql_multicurrency(call: SqlCall) -> Any:
    from sqlglot import exp

    multicurrency = _sql_portal(call, "currencies").multicurrency
    if multicurrency is None:
        return exp.Null()
    return exp.true() if multicurrency else exp.false()


define(
    Function(
        "pipeline_probability",
        "portal",
        (Param("stage", S, "a deal stage id: string(dealstage)"),),
        N,
        "The win probability (0 to 1) of a pipeline stage.",
        Evidence.USED_BY_HUBSPOT,
        needs_portal="pipelines",
        examples=(
            Example(
                "pipeline_probability(string(dealstage))",
                "0.2",
                (("dealstage", "appointmentscheduled"),),
            ),
        ),
        implementation=_pipeline_probability,
        sql=_sql_stage("probability"),
    )
)
define(
    Function(
        "is_pipeline_stage_closed",
        "portal",
        (Param("stage", S),),
        B,
        "True when the pipeline stage is a closed stage.",
        Evidence.INFERRED,
        needs_portal="pipelines",
        examples=(
            Example(
                "is_pipeline_stage_closed(string(dealstage))", "true", (("dealstage", "closedwon"),)
            ),
        ),
        implementation=_is_stage_closed,
        sql=_sql_stage("closed"),
    )
)
define(
    Function(
        "fetch_portal_home_currency",
        "portal",
        (),
        S,
        "The portal's home currency code.",
        Evidence.INFERRED,
        needs_portal="currencies",
        examples=(Example("fetch_portal_home_currency()", "'USD'"),),
        implementation=_home_currency,
        sql=_sql_home_currency,
        notes="Taking no arguments is inferred.",
    )
)
define(
    Function(
        "is_portal_enabled_currency",
        "portal",
        (Param("currency", S),),
        B,
        "True when the currency is enabled in the portal.",
        Evidence.INFERRED,
        needs_portal="currencies",
        examples=(Example("is_portal_enabled_currency('EUR')", "true"),),
        implementation=_enabled_currency,
        sql=_sql_enabled_currency,
        notes="One currency-code argument is inferred.",
    )
)
define(
    Function(
        "is_portal_multicurrency_enabled",
        "portal",
        (),
        B,
        "True when the portal uses more than one currency.",
        Evidence.INFERRED,
        needs_portal="currencies",
        examples=(Example("is_portal_multicurrency_enabled()", "true"),),
        implementation=_multicurrency,
        sql=_sql_multicurrency,
        notes="Taking no arguments is inferred.",
    )
)

_UNKNOWN = "Known to HubSpot's parser; its arguments and meaning are not documented."
for _name, _result, _needs in (
    ("exchange_rate", N, "currencies"),
    ("dated_exchange_rate", N, "currencies"),
    ("currency_decimal_places", N, "currencies"),
    ("fetch_single_currency_portal_currency", S, "currencies"),
    ("has_email_reply", B, "emails"),
    ("has_plain_text_email_reply", B, "emails"),
    ("extract_most_recent_email_reply_html", S, "emails"),
    ("extract_most_recent_email_reply_text", S, "emails"),
    ("extract_most_recent_plain_text_reply", S, "emails"),
    ("is_engagement_type", B, "engagements"),
):
    define(
        Function(
            _name,
            "portal",
            (),
            _result,
            _UNKNOWN,
            Evidence.UNKNOWN,
            known_signature=False,
            needs_portal=_needs,
        )
    )
