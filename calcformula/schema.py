"""Property schemas: what the checker knows about an object's properties.

A schema file is exactly HubSpot's response to ``GET /crm/v3/properties/{object}`` (the whole
response or just its ``results`` array), so `calcformula schema pull` output and a hand-written
file look the same. A folder of ``<object>.json`` files holds one schema per object.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calcformula.nodes import PropertyKind


class SchemaError(ValueError):
    """A schema file that cannot be used; the message says where and why."""


# HubSpot property types and how a formula reads them (decision T2).
_NUMBER_TYPES = {"number", "date", "datetime"}
_BOOL_TYPES = {"bool"}


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    name: str
    type: str  # HubSpot's `type`: string, number, date, datetime, bool, enumeration, ...
    field_type: str = ""
    label: str = ""
    group: str = ""
    description: str = ""
    options: tuple[str, ...] = ()
    calculation_formula: str | None = None
    hubspot_defined: bool = False
    object_name: str = ""

    @property
    def reads_as(self) -> PropertyKind:
        """How a formula must reference it: bare (number), string(...) or bool(...)."""
        if self.type in _NUMBER_TYPES:
            return PropertyKind.NUMBER
        if self.type in _BOOL_TYPES:
            return PropertyKind.BOOL
        return PropertyKind.STRING

    @property
    def is_date(self) -> bool:
        return self.type in ("date", "datetime")

    @property
    def reference(self) -> str:
        """The text that reads this property in a formula."""
        kind = self.reads_as
        return self.name if kind is PropertyKind.NUMBER else f"{kind.value}({self.name})"


@dataclass(frozen=True, slots=True)
class Schema:
    properties: dict[str, PropertyInfo] = field(default_factory=dict)
    object_name: str = ""

    def get(self, name: str) -> PropertyInfo | None:
        return self.properties.get(name.lower())

    def suggest(self, name: str) -> str | None:
        close = difflib.get_close_matches(name.lower(), list(self.properties), n=1, cutoff=0.75)
        return close[0] if close else None

    def __len__(self) -> int:
        return len(self.properties)

    @classmethod
    def from_properties(cls, properties: Iterable[PropertyInfo], object_name: str = "") -> Schema:
        return cls({p.name.lower(): p for p in properties}, object_name)

    @classmethod
    def from_json(cls, data: Any, object_name: str = "", source: str = "schema") -> Schema:
        """From HubSpot's JSON (`{"results": [...]}` or the list); raises SchemaError."""
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        if not isinstance(data, list):
            raise SchemaError(
                f"{source}: expected HubSpot's property list (an object with `results`, or a list)"
            )
        properties: list[PropertyInfo] = []
        for index, item in enumerate(data):
            where = f"{source}: property {index + 1}"
            if not isinstance(item, dict):
                raise SchemaError(f"{where}: expected an object")
            name, kind = item.get("name"), item.get("type")
            if not isinstance(name, str) or not name:
                raise SchemaError(f"{where}: `name` must be a non-empty string")
            if not isinstance(kind, str):
                raise SchemaError(f"{where} ({name}): `type` must be a string")
            options = item.get("options") or []
            if not isinstance(options, list):
                raise SchemaError(f"{where} ({name}): `options` must be a list")
            values = tuple(
                str(o.get("value")) for o in options if isinstance(o, dict) and "value" in o
            )
            formula = item.get("calculationFormula")
            properties.append(
                PropertyInfo(
                    name=name.lower(),
                    type=kind,
                    field_type=str(item.get("fieldType", "")),
                    label=str(item.get("label", "")),
                    group=str(item.get("groupName", "")),
                    description=str(item.get("description", "")),
                    options=values,
                    calculation_formula=formula if isinstance(formula, str) else None,
                    hubspot_defined=bool(item.get("hubspotDefined", False)),
                    object_name=object_name,
                )
            )
        return cls.from_properties(properties, object_name)

    @classmethod
    def load(cls, path: str | Path, object_name: str | None = None) -> Schema:
        """One `<object>.json` file; the object name defaults to the file's stem."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SchemaError(f"{path}: cannot read: {error}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SchemaError(
                f"{path}:{error.lineno}:{error.colno}: not JSON: {error.msg}"
            ) from None
        return cls.from_json(data, object_name or path.stem, str(path))


def load_schemas(path: str | Path) -> dict[str, Schema]:
    """A file (one object) or a folder of `<object>.json` files, keyed by object name."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise SchemaError(f"{path}: no .json schema files in this folder")
        return {f.stem: Schema.load(f) for f in files}
    if not path.exists():
        raise SchemaError(f"{path}: no such file or folder")
    schema = Schema.load(path)
    return {schema.object_name: schema}
