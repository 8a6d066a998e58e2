"""Applying a plan: groups first, then properties in dependency order, each write read back
and verified. A 409 means "re-read and reconcile", never "done"; a create whose outcome is
unknown is re-read before anything is sent again. Pull and schema pull live here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from calcformula.formatter import format_tree
from calcformula.hubspot.client import AmbiguousWrite, HubSpotClient, HubSpotError
from calcformula.hubspot.plan import Action, Plan, PropertyPlan, compare, payload, references
from calcformula.manifest import NAME, OBJECT_NAME, ManagedProperty
from calcformula.parser import parse
from calcformula.project import inside
from calcformula.safe_io import write_atomic

Report = Callable[[str], None]


@dataclass
class Outcome:
    object: str
    name: str
    action: str
    ok: bool
    detail: str = ""


@dataclass
class PushResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


class VerificationError(Exception):
    """HubSpot stored something other than what was sent."""


def _verify(client: HubSpotClient, prop: ManagedProperty) -> dict[str, Any]:
    stored = client.get_property(prop.object, prop.name)
    if stored is None:
        raise VerificationError("HubSpot does not return the property after writing it")
    differences = compare(prop, stored)
    if differences or stored.get("type") != prop.type:
        fields = ", ".join(c.field for c in differences) or "type"
        raise VerificationError(f"HubSpot stored a different {fields}")
    return stored


def _create(client: HubSpotClient, prop: ManagedProperty, report: Report) -> str:
    try:
        client.create_property(prop.object, payload(prop, create=True))
        return "created"
    except AmbiguousWrite as error:
        report(f"  {prop.object}/{prop.name}: {error.message}; reading it back")
        if client.get_property(prop.object, prop.name) is not None:
            return "created (confirmed by reading it back)"
        client.create_property(prop.object, payload(prop, create=True))
        return "created (the first attempt did not arrive)"
    except HubSpotError as error:
        if error.status == 404:
            raise HubSpotError(
                _unknown_properties(client, prop, error), 404, error.category, None, error.body
            ) from None
        if error.status != 409:
            raise
        report(f"  {prop.object}/{prop.name}: HubSpot says it exists already (409); reconciling")
        current = client.get_property(prop.object, prop.name)
        if current is None:
            raise
        if current.get("type") != prop.type or current.get("fieldType") != prop.field_type:
            raise HubSpotError(
                f"{prop.object}/{prop.name} appeared meanwhile with type "
                f"{current.get('type')} / {current.get('fieldType')}; "
                "run plan again",
                409,
            ) from None
        if compare(prop, current):
            client.update_property(prop.object, prop.name, payload(prop, create=False))
            return "updated (it appeared meanwhile)"
        return "already as declared (it appeared meanwhile)"


def _unknown_properties(client: HubSpotClient, prop: ManagedProperty, error: HubSpotError) -> str:
    """HubSpot answers a create whose formula names an unknown property with 404 (decisions.md,
    API facts). Name the property: the formula's names the portal does not list, else the
    names HubSpot's body mentions (its exact wording is not documented)."""
    named = references(prop)
    missing: list[str] = []
    try:
        present = {p["name"] for p in client.list_properties(prop.object)}
        missing = sorted(n for n in named if n not in present)
    except HubSpotError:
        pass
    if not missing:
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", _body_text(error.body)))
        missing = sorted(n for n in named if n in words)
    if missing:
        names = ", ".join(f"`{n}`" for n in missing)
        return (
            "HubSpot answered 404: the formula names "
            f"{'a property' if len(missing) == 1 else 'properties'} that {prop.object} does not "
            f"have: {names}; create {'it' if len(missing) == 1 else 'them'} first or fix the name"
        )
    return (
        "HubSpot answered 404 to the create; the formula may name a property "
        f"{prop.object} does not have\n  {error.message}"
    )


def _body_text(body: Any) -> str:
    if isinstance(body, dict):
        return " ".join(_body_text(v) for v in body.values())
    if isinstance(body, list):
        return " ".join(_body_text(v) for v in body)
    return body if isinstance(body, str) else ""


def apply_plan(
    client: HubSpotClient, plan: Plan, report: Report, archive: bool = False
) -> PushResult:
    result = PushResult()
    for group in plan.groups:
        if group.action is not Action.CREATE or group.desired is None:
            continue
        body: dict[str, Any] = {"name": group.name, "label": group.desired.label}
        if group.desired.display_order is not None:
            body["displayOrder"] = group.desired.display_order
        try:
            client.create_group(group.object, body)
            result.outcomes.append(Outcome(group.object, group.name, "group created", True))
            report(f"+ group {group.object}/{group.name}: created")
        except AmbiguousWrite as unknown:
            # Never re-send blindly: the group may exist already.
            report(f"  group {group.object}/{group.name}: {unknown.message}; reading it back")
            names = {g.get("name") for g in client.list_groups(group.object)}
            what = "created (confirmed by reading it back)"
            if group.name not in names:
                client.create_group(group.object, body)
                what = "created (the first attempt did not arrive)"
            result.outcomes.append(Outcome(group.object, group.name, "group " + what, True))
            report(f"+ group {group.object}/{group.name}: {what}")
        except HubSpotError as error:
            if error.status != 409:
                result.outcomes.append(
                    Outcome(group.object, group.name, "group", False, error.message)
                )
                report(f"! group {group.object}/{group.name}: {error.message}")
                return result  # properties in it would fail too
    for entry in plan.properties:
        if entry.action is Action.ARCHIVE:
            if archive:
                _archive(client, entry, result, report)
            continue
        if entry.action not in (Action.CREATE, Action.UPDATE) or entry.desired is None:
            continue
        prop = entry.desired
        try:
            if entry.action is Action.CREATE:
                what = _create(client, prop, report)
            else:
                client.update_property(prop.object, prop.name, payload(prop, create=False))
                what = "updated (" + ", ".join(c.field for c in entry.changes) + ")"
            _verify(client, prop)
            result.outcomes.append(Outcome(prop.object, prop.name, what, True))
            report(
                f"{'+' if entry.action is Action.CREATE else '~'} "
                f"{prop.object}/{prop.name}: {what}, verified"
            )
        except (HubSpotError, VerificationError) as error:
            message = error.message if isinstance(error, HubSpotError) else str(error)
            result.outcomes.append(
                Outcome(prop.object, prop.name, entry.action.value, False, message)
            )
            report(f"! {prop.object}/{prop.name}: {message}")
            if isinstance(error, HubSpotError) and error.status in (401, 403, 429):
                break  # every later request would fail the same way
    return result


def _archive(
    client: HubSpotClient, entry: PropertyPlan, result: PushResult, report: Report
) -> None:
    try:
        client.archive_property(entry.object, entry.name)
        still_there = client.get_property(entry.object, entry.name) is not None
        if still_there:
            raise HubSpotError("HubSpot still returns it after archiving")
        result.outcomes.append(Outcome(entry.object, entry.name, "archived", True))
        report(f"- {entry.object}/{entry.name}: archived")
    except HubSpotError as error:
        result.outcomes.append(Outcome(entry.object, entry.name, "archive", False, error.message))
        report(f"! {entry.object}/{entry.name}: {error.message}")


# --- pull ----------------------------------------------------------------------------------


def bad_object_names(objects: list[str]) -> list[str]:
    """The names that are not HubSpot object names (they would become URL paths and folder
    names): a lower-case name such as `deals`, or a type id such as `2-12345`."""
    return [name for name in objects if not OBJECT_NAME.fullmatch(name)]


def _shown(name: object) -> str:
    """A server-sent name, quoted and shortened for a message (it may hold anything)."""
    text = json.dumps(name, ensure_ascii=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _write_inside(folder: Path, relative: Path, text: str) -> None:
    """Write `folder/relative` atomically, refusing any path (a symbolic link in the folder
    included) that would land outside `folder`."""
    target = folder / relative
    if not inside(target, folder):
        raise HubSpotError(f"{target} leads outside {folder}; not written")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not inside(target, folder):  # a parent folder that is a link out of the folder
        raise HubSpotError(f"{target} leads outside {folder}; not written")
    write_atomic(target, text)


def schema_pull(
    client: HubSpotClient,
    objects: list[str],
    folder: Path,
    read: dict[str, list[dict[str, Any]]] | None = None,
) -> list[Path]:
    bad = bad_object_names(objects)
    if bad:
        raise HubSpotError(f"not a HubSpot object name: {', '.join(_shown(n) for n in bad)}")
    # Every object is read before any file is written: a bad answer writes nothing.
    read = read or {name: client.list_properties(name) for name in objects}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for object_name in objects:
        properties = read[object_name]
        relative = Path(f"{object_name}.json")
        _write_inside(
            folder,
            relative,
            json.dumps({"results": properties}, indent=1, ensure_ascii=False) + "\n",
        )
        written.append(folder / relative)
    return written


def pull(
    client: HubSpotClient, objects: list[str], folder: Path, problems: list[str] | None = None
) -> tuple[Path, int]:
    """The portal's custom calculation properties as a manifest with canonical .calc files
    (plus the schemas), so an existing portal can be adopted. A property whose name is not a
    HubSpot internal name is skipped (names become file names) and said in `problems`."""
    if problems is None:
        problems = []
    bad = bad_object_names(objects)
    if bad:
        raise HubSpotError(f"not a HubSpot object name: {', '.join(_shown(n) for n in bad)}")
    read = {name: client.list_properties(name) for name in objects}
    folder.mkdir(parents=True, exist_ok=True)
    schema_pull(client, objects, folder / "schema", read)
    entries: list[dict[str, Any]] = []
    for object_name in objects:
        for prop in read[object_name]:
            if prop.get("fieldType") != "calculation_equation" or prop.get("hubspotDefined"):
                continue
            formula = prop.get("calculationFormula")
            if not isinstance(formula, str):
                continue
            name = prop.get("name")
            if not isinstance(name, str) or not NAME.fullmatch(name):
                problems.append(
                    f"{object_name}: skipped a property named {_shown(name)}: not a HubSpot "
                    "internal name (lower-case letters, digits and _, starting with a letter, "
                    "at most 100 characters)"
                )
                continue
            result = parse(formula)
            text = format_tree(result.tree) if result.ok else formula
            relative = Path("formulas") / object_name / f"{name}.calc"
            _write_inside(folder, relative, text + "\n")
            entry: dict[str, Any] = {
                "object": object_name,
                "name": prop["name"],
                "label": prop.get("label", ""),
                "type": prop.get("type"),
                "group": prop.get("groupName", ""),
            }
            if prop.get("description"):
                entry["description"] = prop["description"]
            if prop.get("type") == "enumeration":
                entry["options"] = [
                    {"value": o.get("value"), "label": o.get("label")}
                    for o in prop.get("options") or []
                ]
            entry["formula_file"] = str(relative)
            entries.append(entry)
    manifest = {"schema": "schema/", "properties": entries}
    path = folder / "calcformula.yaml"
    _write_inside(
        folder,
        Path("calcformula.yaml"),
        "# Pulled from HubSpot by `calcformula pull`.\n"
        + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True),
    )
    return path, len(entries)
