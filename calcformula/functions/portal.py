"""Functions that read portal data: pipelines, currencies, emails and engagements (decision E8).

They evaluate from a portal-context file when one is given; otherwise the evaluator reports
"needs portal data" for the record. Those whose meaning is unknown are never evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from calcformula.functions.registry import Evidence, Example, Function, Param, Type, Value, define
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
