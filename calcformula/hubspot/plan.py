"""The plan: what a push would do to the portal, property by property.

Formulas are compared as syntax trees, so HubSpot's canonical rewrite of a stored formula
(`=` → `equals`, quotes, line breaks, parentheses) is never a difference. Only the fields the
manifest declares are compared. Immutable fields (type, field type) and properties calcformula
must not touch (HubSpot-defined, archived names, non-calculation properties) are conflicts
that block a push.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from calcformula.formatter import format_tree, stored_form
from calcformula.hubspot.client import HubSpotClient
from calcformula.manifest import ManagedGroup, ManagedProperty, Manifest
from calcformula.nodes import Property, walk
from calcformula.parser import parse
from calcformula.schema import Schema


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    NOOP = "no change"
    CONFLICT = "conflict"
    ARCHIVE = "archive"


@dataclass(frozen=True)
class Change:
    field: str
    portal: Any
    manifest: Any


@dataclass
class PropertyPlan:
    object: str
    name: str
    action: Action
    changes: list[Change] = field(default_factory=list)
    reason: str = ""
    desired: ManagedProperty | None = None
    current: dict[str, Any] | None = None
    depends_on: list[str] = field(default_factory=list)


@dataclass
class GroupPlan:
    object: str
    name: str
    action: Action
    desired: ManagedGroup | None = None


@dataclass
class PortalState:
    """What the portal has for one object."""

    properties: dict[str, dict[str, Any]]
    archived: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]

    def schema(self, object_name: str) -> Schema:
        return Schema.from_json(list(self.properties.values()), object_name)


@dataclass
class Plan:
    groups: list[GroupPlan] = field(default_factory=list)
    properties: list[PropertyPlan] = field(default_factory=list)
    states: dict[str, PortalState] = field(default_factory=dict)

    @property
    def conflicts(self) -> list[PropertyPlan]:
        return [p for p in self.properties if p.action is Action.CONFLICT]

    @property
    def pending(self) -> bool:
        return any(g.action is Action.CREATE for g in self.groups) or any(
            p.action in (Action.CREATE, Action.UPDATE, Action.ARCHIVE) for p in self.properties
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "groups": [
                {"object": g.object, "name": g.name, "action": g.action.value} for g in self.groups
            ],
            "properties": [
                {
                    "object": p.object,
                    "name": p.name,
                    "action": p.action.value,
                    "reason": p.reason or None,
                    "changes": [
                        {"field": c.field, "portal": c.portal, "manifest": c.manifest}
                        for c in p.changes
                    ],
                }
                for p in self.properties
            ],
            "summary": {a.value: sum(1 for p in self.properties if p.action is a) for a in Action},
        }


def read_state(client: HubSpotClient, object_name: str) -> PortalState:
    active = {p["name"]: p for p in client.list_properties(object_name) if "name" in p}
    archived = {
        p["name"]: p
        for p in client.list_properties(object_name, archived=True)
        if "name" in p and p["name"] not in active
    }
    groups = {g["name"]: g for g in client.list_groups(object_name) if "name" in g}
    return PortalState(active, archived, groups)


def formulas_equal(first: str | None, second: str | None) -> bool:
    """Same formula: equal syntax trees (HubSpot's rewrite ignored); text if one is broken."""
    if first is None or second is None:
        return first == second
    a, b = parse(first), parse(second)
    if a.ok and b.ok:
        # HubSpot stores `'x' + y` as `concatenate('x', y)` and `a != b` as
        # `not (a equals b)`: compare the stored forms (decision C1).
        return a.tree == b.tree or stored_form(a.tree) == stored_form(b.tree)
    return " ".join(first.split()) == " ".join(second.split())


def hubspot_text(formula: str) -> str:
    """The formula as HubSpot stores it (sent so that the first read-back already matches)."""
    result = parse(formula)
    return format_tree(result.tree, "hubspot") if result.ok else formula


def payload(prop: ManagedProperty, create: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "label": prop.label,
        "groupName": prop.group,
        "description": prop.description,
        "calculationFormula": hubspot_text(prop.formula),
    }
    if create:
        body.update({"name": prop.name, "type": prop.type, "fieldType": prop.field_type})
    if prop.options:
        body["options"] = [
            {"label": o.label, "value": o.value, "displayOrder": i, "hidden": False}
            for i, o in enumerate(prop.options)
        ]
    if prop.display_order is not None:
        body["displayOrder"] = prop.display_order
    if prop.hidden:
        body["hidden"] = True
    return body


def _options(current: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (str(o.get("value")), str(o.get("label")))
        for o in current.get("options") or []
        if isinstance(o, dict)
    )


def compare(prop: ManagedProperty, current: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    for name, mine in (
        ("label", prop.label),
        ("groupName", prop.group),
        ("description", prop.description),
    ):
        theirs = current.get(name) or ""
        if (mine or "") != theirs:
            changes.append(Change(name, theirs, mine))
    if not formulas_equal(current.get("calculationFormula"), prop.formula):
        changes.append(
            Change(
                "calculationFormula", current.get("calculationFormula"), hubspot_text(prop.formula)
            )
        )
    if prop.options:
        mine_options = sorted((o.value, o.label) for o in prop.options)
        if mine_options != _options(current):
            changes.append(Change("options", _options(current), mine_options))
    if prop.display_order is not None and current.get("displayOrder") != prop.display_order:
        changes.append(Change("displayOrder", current.get("displayOrder"), prop.display_order))
    if prop.hidden != bool(current.get("hidden", False)):
        changes.append(Change("hidden", bool(current.get("hidden")), prop.hidden))
    return changes


def references(prop: ManagedProperty) -> set[str]:
    result = parse(prop.formula)
    return {n.name for n in walk(result.tree) if isinstance(n, Property)}


def dependency_order(
    properties: list[ManagedProperty],
) -> tuple[list[ManagedProperty], list[list[str]]]:
    """Properties ordered so that one a formula reads comes first; and any cycles."""
    by_key = {(p.object, p.name): p for p in properties}
    order: list[ManagedProperty] = []
    state: dict[tuple[str, str], int] = {}
    cycles: list[list[str]] = []

    def visit(key: tuple[str, str], path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycles.append([*path, key[1]])
            return
        state[key] = 1
        for name in sorted(references(by_key[key])):
            other = (key[0], name)
            if other in by_key and other != key:
                visit(other, [*path, key[1]])
        state[key] = 2
        order.append(by_key[key])

    for key in by_key:
        visit(key, [])
    return order, cycles


def make_plan(manifest: Manifest, states: dict[str, PortalState], prune: bool = False) -> Plan:
    plan = Plan(states=states)
    declared_groups = {(g.object, g.name): g for g in manifest.groups}
    for (object_name, name), group in declared_groups.items():
        exists = name in states[object_name].groups
        plan.groups.append(
            GroupPlan(object_name, name, Action.NOOP if exists else Action.CREATE, group)
        )
    ordered, cycles = dependency_order(manifest.properties)
    cyclic = {name for cycle in cycles for name in cycle}
    for prop in ordered:
        state = states[prop.object]
        current = state.properties.get(prop.name)
        depends = sorted(
            n
            for n in references(prop)
            if any(p.object == prop.object and p.name == n for p in manifest.properties)
        )
        entry = PropertyPlan(
            prop.object, prop.name, Action.NOOP, desired=prop, current=current, depends_on=depends
        )
        plan.properties.append(entry)
        if prop.name in cyclic:
            entry.action = Action.CONFLICT
            entry.reason = "its formula depends on itself through other managed properties"
            continue
        if prop.group not in state.groups and (prop.object, prop.group) not in declared_groups:
            entry.action = Action.CONFLICT
            entry.reason = (
                f"group `{prop.group}` does not exist on {prop.object}; declare it "
                f"under `groups:` or use an existing group"
            )
            continue
        if current is None:
            if prop.name in state.archived:
                entry.action = Action.CONFLICT
                entry.reason = (
                    "an archived property has this name; restore or purge it in "
                    "HubSpot (archived names may stay reserved for 90 days), or "
                    "choose another name"
                )
            else:
                entry.action = Action.CREATE
            continue
        if current.get("hubspotDefined"):
            entry.action = Action.CONFLICT
            entry.reason = "a HubSpot-defined property has this name; calcformula never changes it"
            continue
        if current.get("fieldType") != prop.field_type or current.get("type") != prop.type:
            entry.action = Action.CONFLICT
            entry.reason = (
                f"it exists as type {current.get('type')} / field type "
                f"{current.get('fieldType')}; the manifest says {prop.type} / "
                f"{prop.field_type}, and those cannot be changed"
            )
            continue
        if current.get("modificationMetadata", {}).get("readOnlyDefinition"):
            entry.action = Action.CONFLICT
            entry.reason = "HubSpot marks its definition read-only"
            continue
        entry.changes = compare(prop, current)
        entry.action = Action.UPDATE if entry.changes else Action.NOOP
    if prune:
        managed = {(p.object, p.name) for p in manifest.properties}
        for object_name in sorted({p.object for p in manifest.properties}):
            for name, current in sorted(states[object_name].properties.items()):
                if (object_name, name) in managed or current.get("hubspotDefined"):
                    continue
                if current.get("fieldType") == "calculation_equation":
                    plan.properties.append(
                        PropertyPlan(
                            object_name,
                            name,
                            Action.ARCHIVE,
                            current=current,
                            reason="a calculation property the manifest does not manage",
                        )
                    )
    return plan


def objects_of(manifest: Manifest) -> list[str]:
    return sorted({p.object for p in manifest.properties} | {g.object for g in manifest.groups})


def render_plan(plan: Plan) -> Iterable[str]:
    symbols = {
        Action.CREATE: "+",
        Action.UPDATE: "~",
        Action.NOOP: "=",
        Action.CONFLICT: "!",
        Action.ARCHIVE: "-",
    }
    for group in plan.groups:
        if group.action is Action.CREATE:
            yield f"+ group {group.object}/{group.name}: create"
    for entry in plan.properties:
        line = f"{symbols[entry.action]} {entry.object}/{entry.name}: {entry.action.value}"
        if entry.reason:
            line += f" ({entry.reason})"
        if entry.depends_on and entry.action is Action.CREATE:
            line += f" after {', '.join(entry.depends_on)}"
        yield line
        for change in entry.changes:
            if change.field == "calculationFormula":
                yield "    calculationFormula:"
                yield f"      portal:   {change.portal}"
                yield f"      manifest: {change.manifest}"
            else:
                yield f"    {change.field}: {change.portal!r} -> {change.manifest!r}"
    counts = {a: sum(1 for p in plan.properties if p.action is a) for a in Action}
    yield (
        f"{counts[Action.CREATE]} to create, {counts[Action.UPDATE]} to update, "
        f"{counts[Action.NOOP]} unchanged, {counts[Action.CONFLICT]} conflict(s)"
        + (f", {counts[Action.ARCHIVE]} to archive" if counts[Action.ARCHIVE] else "")
    )
