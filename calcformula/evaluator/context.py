"""What evaluation needs besides the record: the clock and the portal's data.

The portal context (decision E8) is a JSON file; `docs/portal-context.md` documents it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    label: str
    probability: Decimal | None
    closed: bool | None


@dataclass(frozen=True, slots=True)
class PortalContext:
    stages: dict[str, Stage] = field(default_factory=dict)
    home_currency: str | None = None
    enabled_currencies: frozenset[str] = frozenset()
    multicurrency: bool | None = None
    decimal_places: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> PortalContext:
        """Build from the documented JSON shape; raises ValueError with a precise message."""
        if not isinstance(data, dict):
            raise ValueError("the portal context must be a JSON object")
        stages: dict[str, Stage] = {}
        pipelines = data.get("pipelines", {})
        if not isinstance(pipelines, dict):
            raise ValueError("`pipelines` must map object names to lists of pipelines")
        for object_name, object_pipelines in pipelines.items():
            if not isinstance(object_pipelines, list):
                raise ValueError(f"`pipelines.{object_name}` must be a list")
            for pipeline_index, pipeline in enumerate(object_pipelines):
                where = f"pipelines.{object_name}[{pipeline_index}]"
                if not isinstance(pipeline, dict) or not isinstance(pipeline.get("stages"), list):
                    raise ValueError(f"`{where}` must be an object with a `stages` list")
                for stage_index, stage in enumerate(pipeline["stages"]):
                    stage_where = f"{where}.stages[{stage_index}]"
                    if not isinstance(stage, dict) or not isinstance(stage.get("id"), str):
                        raise ValueError(f"`{stage_where}` must be an object with a string `id`")
                    probability = stage.get("probability")
                    parsed: Decimal | None = None
                    if probability is not None:
                        try:
                            parsed = Decimal(str(probability))
                        except InvalidOperation:
                            raise ValueError(
                                f"`{stage_where}.probability` is not a number: {probability!r}"
                            ) from None
                    closed = stage.get("closed")
                    if closed is not None and not isinstance(closed, bool):
                        raise ValueError(f"`{stage_where}.closed` must be true or false")
                    stages[stage["id"]] = Stage(
                        stage["id"], str(stage.get("label", stage["id"])), parsed, closed
                    )
        currencies = data.get("currencies", {})
        if not isinstance(currencies, dict):
            raise ValueError("`currencies` must be an object")
        home = currencies.get("home")
        enabled = currencies.get("enabled", [])
        places = currencies.get("decimal_places", {})
        if home is not None and not isinstance(home, str):
            raise ValueError("`currencies.home` must be a currency code such as 'USD'")
        if not isinstance(enabled, list) or not all(isinstance(c, str) for c in enabled):
            raise ValueError("`currencies.enabled` must be a list of currency codes")
        if not isinstance(places, dict) or not all(isinstance(v, int) for v in places.values()):
            raise ValueError("`currencies.decimal_places` must map currency codes to integers")
        multi = currencies.get("multicurrency")
        if multi is not None and not isinstance(multi, bool):
            raise ValueError("`currencies.multicurrency` must be true or false")
        return cls(stages, home, frozenset(enabled), multi, dict(places))

    @classmethod
    def load(cls, path: str | Path) -> PortalContext:
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from None
        return cls.from_json(data)


@dataclass(frozen=True, slots=True)
class EvalContext:
    """`now_ms` fixes `NOW` for reproducible runs; `portal` feeds portal functions."""

    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    portal: PortalContext | None = None

    @classmethod
    def at(cls, now: int | dt.datetime | None, portal: PortalContext | None = None) -> EvalContext:
        """A context with NOW fixed to `now` (epoch ms, or a datetime; naive means UTC), or the
        current time when `now` is None."""
        if now is None:
            return cls(portal=portal)
        if isinstance(now, dt.datetime):
            moment = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
            now = int(moment.timestamp() * 1000)
        return cls(now_ms=now, portal=portal)
