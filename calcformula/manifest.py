"""`calcformula.yaml`: calculation properties as code, validated with positioned diagnostics.

The manifest names the schema folder (HubSpot's property JSON per object), an optional
portal context, and the managed properties with their formulas (inline, or in a `.calc`
file). Every problem is a Diagnostic with its place in the YAML file; formula diagnostics
are mapped into the YAML too. The format is documented in docs/manifest.md.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from calcformula import codes
from calcformula.diagnostics import Diagnostic, Fix, Related, TextEdit
from calcformula.nodes import Property as PropertyNode
from calcformula.nodes import walk
from calcformula.parser import decode, parse
from calcformula.span import LineIndex, Span

NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
TYPES = ("number", "bool", "string", "enumeration")
# The field types HubSpot accepts for each calculation property type (decision T4 with the
# Properties API's type/fieldType table): custom calculations use calculation_equation.
FIELD_TYPES = {t: ("calculation_equation",) for t in TYPES}
TOP_KEYS = ("schema", "portal", "portal_id", "properties", "groups", "samples")
PROPERTY_KEYS = (
    "object",
    "name",
    "label",
    "type",
    "field_type",
    "group",
    "description",
    "formula",
    "formula_file",
    "options",
    "display_order",
    "hidden",
)
GROUP_KEYS = ("object", "name", "label", "display_order")
REQUIRED = ("object", "name", "label", "type", "group")
# Object names become URL paths (`/crm/v3/properties/<object>`) and folder names (`pull`):
# a name, or a custom object's type id such as `2-12345`.
OBJECT_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}|[0-9]{1,10}-[0-9]{1,20}")
# HubSpot's standard CRM objects, for the did-you-mean on an unknown object.
STANDARD_OBJECTS = (
    "contacts",
    "companies",
    "deals",
    "tickets",
    "products",
    "line_items",
    "quotes",
    "leads",
    "calls",
    "emails",
    "meetings",
    "notes",
    "tasks",
    "communications",
    "postal_mail",
    "appointments",
    "courses",
    "listings",
    "services",
    "invoices",
    "orders",
    "carts",
    "goal_targets",
)
# Limits (docs/manifest.md): a larger or deeper manifest is refused with CF622, never read
# into memory whole or composed recursively.
MAX_MANIFEST_BYTES = 1_048_576
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str


@dataclass
class ManagedProperty:
    """One calculation property of the manifest."""

    object: str
    name: str
    label: str
    type: str
    group: str
    formula: str
    field_type: str = "calculation_equation"
    description: str = ""
    options: tuple[Option, ...] = ()
    display_order: int | None = None
    hidden: bool = False
    formula_file: Path | None = None
    # Where the formula text starts: in the manifest (inline) or in formula_file.
    formula_origin: Span | None = None
    formula_style: str = "plain"  # the YAML scalar style of an inline formula
    span: Span | None = None  # the entry in the manifest

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    @property
    def key(self) -> tuple[str, str]:
        return (self.object, self.name)


@dataclass
class ManagedGroup:
    object: str
    name: str
    label: str
    display_order: int | None = None


@dataclass
class Manifest:
    path: Path
    text: str
    schema: Path | None = None
    portal: Path | None = None
    portal_id: str | None = None
    samples: Path | None = None  # records whose values the language server shows (optional)
    properties: list[ManagedProperty] = field(default_factory=list)
    # Entries with errors whose formula could still be read: checked too (so one run reports
    # every problem), never pushed. Missing fields are "".
    partial: list[ManagedProperty] = field(default_factory=list)
    groups: list[ManagedGroup] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @functools.cached_property
    def index(self) -> LineIndex:
        return LineIndex(self.text)

    def formula_offsets(self, prop: ManagedProperty) -> list[int] | None:
        """The manifest offset of each character of an inline formula (plus one past its end),
        or None where YAML escapes or folding make a character-by-character mapping
        impossible. The CLI maps diagnostics with it, the language server positions."""
        origin = prop.formula_origin
        if origin is None or prop.formula_file is not None:
            return None
        formula = prop.formula
        if prop.formula_style == "|":
            # A literal block: formula line k is manifest line origin.line + k - 1, indented.
            offsets: list[int] = []
            line = origin.line
            for formula_line in formula.split("\n"):
                start = self.index.offset(line, origin.column)
                offsets.extend(range(start, start + len(formula_line)))
                offsets.append(start + len(formula_line))  # the line break
                line += 1
            return offsets[: len(formula) + 1]
        shift = 1 if prop.formula_style in ("'", '"') else 0
        start = origin.start + shift
        if self.text[start : start + len(formula)] != formula:
            return None
        return list(range(start, start + len(formula) + 1))

    def map_span(self, prop: ManagedProperty, span: Span) -> Span:
        """A span inside an inline formula, as a span of the manifest text (the whole formula
        where characters cannot be mapped one by one)."""
        if prop.formula_file is not None or prop.formula_origin is None:
            return span
        offsets = self.formula_offsets(prop)
        if offsets is None:
            return prop.formula_origin
        last = len(offsets) - 1
        start, end = offsets[min(span.start, last)], offsets[min(span.end, last)]
        return self.index.span(start, max(start, end))


class _Loader:
    def __init__(self, path: Path, text: str) -> None:
        self.manifest = Manifest(path, text)
        self.index = LineIndex(text)

    def span(self, node: yaml.Node) -> Span:
        start = self.index.offset(node.start_mark.line + 1, node.start_mark.column + 1)
        end = self.index.offset(node.end_mark.line + 1, node.end_mark.column + 1)
        return self.index.span(start, max(start, end))

    def report(self, diagnostic: Diagnostic) -> None:
        self.manifest.diagnostics.append(diagnostic)

    def mark_span(self, mark: Any) -> Span:
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        offset = self.index.offset(line, column)
        return self.index.span(offset, offset)

    def local_path(self, node: yaml.Node, key: str, value: str) -> Path | None:
        """`value` as a path inside the manifest's folder (symbolic links followed), or None
        after a CF620; nothing outside the folder is ever opened."""
        base = self.manifest.path.parent
        reason = None
        if "\0" in value:
            reason = "contains a NUL character"
        elif Path(value).is_absolute() or value.startswith("~"):
            reason = "is an absolute path"
        else:
            try:
                folder = base.resolve()
                resolved = (base / value).resolve()
            except (OSError, RuntimeError):  # a symbolic link loop
                reason = "cannot be resolved"
            else:
                if resolved != folder and folder not in resolved.parents:
                    leaves = ".." in Path(value).parts
                    reason = (
                        "leaves the manifest's folder"
                        if leaves
                        else "resolves (through a symbolic link) outside the manifest's folder"
                    )
        if reason is not None:
            self.report(
                codes.MANIFEST_OUTSIDE.at(self.span(node), key=key, value=value, reason=reason)
            )
            return None
        return base / value

    def limits(self) -> bool:
        """False (after a CF622) when the text is too large or nests too deeply to compose."""
        text = self.manifest.text
        if len(text) > MAX_MANIFEST_BYTES:
            self.report(
                codes.MANIFEST_LIMIT.at(
                    self.index.span(0, 0),
                    what=f"has {len(text):,} characters",
                    limit=f"{MAX_MANIFEST_BYTES:,} bytes",
                )
            )
            return False
        depth = 0
        try:
            # The event stream is produced without recursion; composing is recursive.
            for event in yaml.parse(text, Loader=yaml.SafeLoader):
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        self.report(
                            codes.MANIFEST_LIMIT.at(
                                self.mark_span(event.start_mark),
                                what=f"nests more than {MAX_DEPTH} levels deep here",
                                limit=f"{MAX_DEPTH} levels",
                            )
                        )
                        return False
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
        except yaml.YAMLError:
            return True  # composing reports it with its position
        return True

    def duplicate_keys(self, root: yaml.Node) -> None:
        """CF621 for every key written twice in one mapping, at any depth."""
        stack = [root]
        seen_nodes: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in seen_nodes:
                continue  # an alias of a node already visited
            seen_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                first: dict[str, yaml.Node] = {}
                for key_node, value_node in node.value:
                    stack.append(value_node)
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                        continue
                    key = str(key_node.value)
                    if key in first:
                        earlier = self.span(first[key])
                        self.report(
                            codes.MANIFEST_DUPLICATE_KEY.at(
                                self.span(key_node),
                                key=key,
                                line=earlier.line,
                                related=(Related(earlier, f"`{key}` first appears here"),),
                            )
                        )
                    else:
                        first[key] = key_node
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)

    def scalar(self, node: yaml.Node, key: str, expected: str = "text") -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
            return str(node.value)
        actual = (
            "a list"
            if isinstance(node, yaml.SequenceNode)
            else ("a mapping" if isinstance(node, yaml.MappingNode) else "empty")
        )
        self.report(
            codes.MANIFEST_BAD_VALUE.at(self.span(node), key=key, expected=expected, actual=actual)
        )
        return None

    def mapping(self, node: yaml.Node, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            self.report(
                codes.MANIFEST_BAD_VALUE.at(
                    self.span(node),
                    key=what,
                    expected="a mapping of keys to values",
                    actual="a list" if isinstance(node, yaml.SequenceNode) else "a single value",
                )
            )
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                span = self.span(key_node)
                self.report(
                    codes.MANIFEST_UNKNOWN_KEY.at(
                        span,
                        key=key,
                        suggestion=f" (did you mean `{close[0]}`?)" if close else "",
                        allowed=", ".join(allowed),
                        fixes=(
                            Fix(f"Rename to `{close[0]}`", (TextEdit(span, close[0]),), safe=False),
                        )
                        if close
                        else (),
                    )
                )
                continue
            # A duplicate key is CF621; the first value is the one validated further.
            result.setdefault(key, (key_node, value_node))
        return result

    def load(self) -> Manifest:
        manifest = self.manifest
        if not self.limits():
            return manifest
        try:
            root = yaml.compose(manifest.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            self.report(
                codes.MANIFEST_SYNTAX.at(
                    self.mark_span(error.problem_mark), problem=str(error.problem or error)
                )
            )
            return manifest
        except yaml.YAMLError as error:
            self.report(codes.MANIFEST_SYNTAX.at(self.index.span(0, 0), problem=str(error)))
            return manifest
        except RecursionError:  # not reachable within MAX_DEPTH; kept as a last guard
            self.report(
                codes.MANIFEST_LIMIT.at(
                    self.index.span(0, 0), what="nests too deeply", limit=f"{MAX_DEPTH} levels"
                )
            )
            return manifest
        if root is not None:
            self.duplicate_keys(root)
        if root is None:
            self.report(
                codes.MANIFEST_MISSING.at(
                    self.index.span(0, 0), what="the manifest", key="properties"
                )
            )
            return manifest
        top = self.mapping(root, TOP_KEYS, "the manifest")
        base = manifest.path.parent
        for key in ("schema", "portal", "samples"):
            if key in top:
                value = self.scalar(top[key][1], key, "a path")
                path = self.local_path(top[key][1], key, value) if value is not None else None
                if value is not None and path is not None:
                    if not path.exists():
                        self.report(
                            codes.MANIFEST_FILE.at(
                                self.span(top[key][1]), problem=f"{key} `{value}` does not exist"
                            )
                        )
                    setattr(manifest, key, path)
        if "portal_id" in top:
            manifest.portal_id = self.scalar(top["portal_id"][1], "portal_id", "a portal id")
        if "groups" in top:
            self._groups(top["groups"][1])
        if "properties" not in top:
            if isinstance(root, yaml.MappingNode):
                self.report(
                    codes.MANIFEST_MISSING.at(
                        self.span(root), what="the manifest", key="properties"
                    )
                )
            return manifest
        entries = top["properties"][1]
        if not isinstance(entries, yaml.SequenceNode):
            self.report(
                codes.MANIFEST_BAD_VALUE.at(
                    self.span(entries),
                    key="properties",
                    expected="a list of properties",
                    actual="a single value",
                )
            )
            return manifest
        seen: dict[tuple[str, str], ManagedProperty] = {}
        for entry in entries.value:
            prop = self._property(entry, base)
            if prop is None:
                continue
            if prop.key in seen:
                first = seen[prop.key].span
                self.report(
                    codes.MANIFEST_DUPLICATE.at(
                        prop.span or self.span(entry),
                        name=prop.name,
                        object=prop.object,
                        related=(Related(first, "first defined here"),) if first else (),
                    )
                )
                continue
            seen[prop.key] = prop
            manifest.properties.append(prop)
        self._cycles()
        return manifest

    def _cycles(self) -> None:
        """CF624 for each cycle of managed calculation properties reading each other."""
        for cycle in reference_cycles(self.manifest.properties):
            self._report_cycle(cycle)

    def _report_cycle(self, cycle: list[ManagedProperty]) -> None:
        names = " → ".join(p.name for p in [*cycle, cycle[0]])
        first = cycle[0]
        span = first.formula_origin or first.span or self.index.span(0, 0)
        related = tuple(
            Related(where, f"`{p.name}` is part of the cycle")
            for p in cycle[1:]
            if (where := p.formula_origin or p.span) is not None
        )
        self.report(
            codes.MANIFEST_CYCLE.at(span, cycle=f"{names} (on {first.object})", related=related)
        )

    def _name(self, node: yaml.Node, what: str) -> str | None:
        value = self.scalar(node, "name")
        if value is None:
            return None
        reason = None
        if not value:
            reason = "it is empty"
        elif len(value) > 100:
            reason = f"it has {len(value)} characters (at most 100)"
        elif not value[0].isalpha() or not value[0].islower():
            reason = "it must start with a lower-case letter"
        elif not NAME.fullmatch(value):
            reason = "only lower-case letters, digits and `_` are allowed"
        if reason:
            span = self.span(node)
            fixed = re.sub(r"[^a-z0-9_]", "_", value.lower())
            fixes = (
                (Fix(f"Rename to `{fixed}`", (TextEdit(span, fixed),), safe=False),)
                if NAME.fullmatch(fixed)
                else ()
            )
            self.report(
                codes.MANIFEST_BAD_NAME.at(span, name=value, what=what, reason=reason, fixes=fixes)
            )
            return None
        return value

    def _groups(self, node: yaml.Node) -> None:
        if not isinstance(node, yaml.SequenceNode):
            self.report(
                codes.MANIFEST_BAD_VALUE.at(
                    self.span(node), key="groups", expected="a list", actual="a single value"
                )
            )
            return
        for entry in node.value:
            fields = self.mapping(entry, GROUP_KEYS, "a group")
            missing = [k for k in ("object", "name", "label") if k not in fields]
            for key in missing:
                self.report(codes.MANIFEST_MISSING.at(self.span(entry), what="a group", key=key))
            if missing:
                continue
            name = self._name(fields["name"][1], "group")
            obj = self._object(fields["object"][1])
            label = self.scalar(fields["label"][1], "label")
            if name and obj and label is not None:
                self.manifest.groups.append(ManagedGroup(obj, name, label))

    @functools.cached_property
    def known_objects(self) -> list[str]:
        known = set(STANDARD_OBJECTS)
        folder = self.manifest.schema
        if folder is not None and folder.is_dir():
            known.update(p.stem for p in folder.glob("*.json"))
        return sorted(known)

    def _unknown_object(self, node: yaml.Node, value: str) -> None:
        if value in self.known_objects:
            return
        close = difflib.get_close_matches(value, self.known_objects, n=1, cutoff=0.75)
        if not close:
            return  # a custom object
        span = self.span(node)
        self.report(
            codes.MANIFEST_UNKNOWN_OBJECT.at(
                span,
                name=value,
                suggestion=f" (did you mean `{close[0]}`?)",
                fixes=(Fix(f"Replace with `{close[0]}`", (TextEdit(span, close[0]),), safe=False),),
            )
        )

    def _object(self, node: yaml.Node) -> str | None:
        value = self.scalar(node, "object")
        if value is None:
            return None
        if OBJECT_NAME.fullmatch(value):
            self._unknown_object(node, value)
            return value
        span = self.span(node)
        fixed = re.sub(r"[^a-z0-9_]", "_", value.lower())
        self.report(
            codes.MANIFEST_BAD_NAME.at(
                span,
                name=value,
                what="object",
                reason="an object is a lower-case name (`deals`) or a type id (`2-12345`)",
                fixes=(Fix(f"Rename to `{fixed}`", (TextEdit(span, fixed),), safe=False),)
                if OBJECT_NAME.fullmatch(fixed)
                else (),
            )
        )
        return None

    def _property(self, entry: yaml.Node, base: Path) -> ManagedProperty | None:
        """One property entry. Every field present is validated, even when others are
        missing, so one run reports every problem of the entry."""
        fields = self.mapping(entry, PROPERTY_KEYS, "a property")
        if not fields:
            return None
        span = self.span(entry)
        complete = True
        for key in REQUIRED:
            if key not in fields:
                self.report(codes.MANIFEST_MISSING.at(span, what="a property", key=key))
                complete = False
        if "formula" not in fields and "formula_file" not in fields:
            self.report(
                codes.MANIFEST_MISSING.at(span, what="a property", key="formula` or `formula_file")
            )
            complete = False
        if "formula" in fields and "formula_file" in fields:
            self.report(
                codes.MANIFEST_BAD_VALUE.at(
                    self.span(fields["formula_file"][0]),
                    key="formula_file",
                    expected="absent when `formula` is given",
                    actual="both",
                )
            )
            complete = False
        name = self._name(fields["name"][1], "property") if "name" in fields else None
        obj = self._object(fields["object"][1]) if "object" in fields else None
        label = self.scalar(fields["label"][1], "label") if "label" in fields else None
        group = self.scalar(fields["group"][1], "group") if "group" in fields else None
        kind: str | None = None
        if "type" in fields:
            kind_node = fields["type"][1]
            kind = self.scalar(kind_node, "type")
            if kind == "calculation_rollup":
                self.report(codes.MANIFEST_ROLLUP.at(self.span(kind_node)))
                kind = None
            elif kind is not None and kind not in TYPES:
                self.report(
                    codes.MANIFEST_BAD_VALUE.at(
                        self.span(kind_node),
                        key="type",
                        expected=" | ".join(TYPES),
                        actual=f"`{kind}`",
                    )
                )
                kind = None
        field_type = "calculation_equation"
        if "field_type" in fields:
            value = self.scalar(fields["field_type"][1], "field_type")
            if value == "calculation_rollup":
                self.report(codes.MANIFEST_ROLLUP.at(self.span(fields["field_type"][1])))
                complete = False
            elif kind is not None and value is not None and value not in FIELD_TYPES[kind]:
                self.report(
                    codes.MANIFEST_BAD_VALUE.at(
                        self.span(fields["field_type"][1]),
                        key="field_type",
                        expected=f"{' or '.join(FIELD_TYPES[kind])} for type {kind}",
                        actual=f"`{value}`",
                    )
                )
            elif value is not None:
                field_type = value
        options: tuple[Option, ...] = ()
        if "options" in fields:
            options = self._options(fields["options"][1])
        if kind == "enumeration" and not options:
            self.report(
                codes.MANIFEST_MISSING.at(span, what="an enumeration property", key="options")
            )
        if kind not in (None, "enumeration") and "options" in fields:
            self.report(
                codes.MANIFEST_BAD_VALUE.at(
                    self.span(fields["options"][0]),
                    key="options",
                    expected="absent (only enumeration properties have options)",
                    actual="a list",
                )
            )
        formula, origin, style, formula_file = "", None, "plain", None
        if "formula" in fields:
            node = fields["formula"][1]
            text = self.scalar(node, "formula", "the formula text")
            if text is not None:
                formula, origin = text, self.span(node)
                style = node.style or "plain"
                if style == "|":
                    # The block's text starts on the line after the `|`.
                    first = node.start_mark.line + 2
                    line = self.index.line_text(first) if first <= self.index.line_count else ""
                    indent = len(line) - len(line.lstrip())
                    start = self.index.offset(first, indent + 1)
                    origin = self.index.span(start, start)
        elif "formula_file" in fields:
            node = fields["formula_file"][1]
            value = self.scalar(node, "formula_file", "a path")
            formula_file = self.local_path(node, "formula_file", value) if value else None
            if formula_file is None:
                complete = False
            else:
                try:
                    data = _read_limited(formula_file)
                except OSError as error:
                    self.report(
                        codes.MANIFEST_FILE.at(
                            self.span(node),
                            problem=f"formula_file `{value}` cannot be read: "
                            f"{error.strerror or error}",
                        )
                    )
                    return None
                text, problems = decode(data)
                formula = text
                self.manifest.diagnostics.extend(problems)
        description = ""
        if "description" in fields:
            description = self.scalar(fields["description"][1], "description") or ""
        if not complete or None in (name, obj, label, group, kind):
            if origin is not None or formula_file is not None:
                self.manifest.partial.append(
                    ManagedProperty(
                        object=obj or "",
                        name=name or "",
                        label=label or "",
                        type=kind or "",
                        group=group or "",
                        formula=formula,
                        options=options,
                        formula_file=formula_file,
                        formula_origin=origin,
                        formula_style=style,
                        span=span,
                    )
                )
            return None
        assert name and obj and label is not None and group and kind
        return ManagedProperty(
            object=obj,
            name=name,
            label=label,
            type=kind,
            group=group,
            formula=formula,
            field_type=field_type,
            description=description,
            options=options,
            formula_file=formula_file,
            formula_origin=origin,
            formula_style=style,
            span=span,
        )

    def _options(self, node: yaml.Node) -> tuple[Option, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.report(
                codes.MANIFEST_BAD_VALUE.at(
                    self.span(node), key="options", expected="a list", actual="a single value"
                )
            )
            return ()
        options: list[Option] = []
        for item in node.value:
            if isinstance(item, yaml.ScalarNode):
                options.append(Option(str(item.value), str(item.value)))
                continue
            fields = self.mapping(item, ("value", "label", "display_order", "hidden"), "an option")
            if "value" not in fields:
                self.report(
                    codes.MANIFEST_MISSING.at(self.span(item), what="an option", key="value")
                )
                continue
            value = self.scalar(fields["value"][1], "value")
            label = self.scalar(fields["label"][1], "label") if "label" in fields else value
            if value is not None:
                options.append(Option(value, label or value))
        return tuple(options)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest. Never raises for bad content: see `.diagnostics`."""
    path = Path(path)
    data = _read_limited(path)
    text, problems = decode(data)
    loader = _Loader(path, text)
    loader.manifest.diagnostics.extend(problems)
    return loader.load()


def reference_cycles(properties: list[ManagedProperty]) -> list[list[ManagedProperty]]:
    """Cycles of properties (of one object) whose formulas read each other, a property that
    reads itself included; one per back edge of an iterative depth-first search, so any
    number of properties is handled without recursion."""
    by_key = {p.key: p for p in properties}
    reads: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, prop in by_key.items():
        tree = parse(prop.formula).tree
        names = dict.fromkeys(node.name for node in walk(tree) if isinstance(node, PropertyNode))
        reads[key] = [(prop.object, n) for n in names if (prop.object, n) in by_key]
    cycles: list[list[ManagedProperty]] = []
    state: dict[tuple[str, str], int] = {}  # 1: on the current path, 2: done
    for start in by_key:
        if start in state:
            continue
        path: list[tuple[str, str]] = [start]
        iterators = [iter(reads[start])]
        state[start] = 1
        while iterators:
            following = next(iterators[-1], None)
            if following is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(following) == 1:
                cycles.append([by_key[k] for k in path[path.index(following) :]])
            elif following not in state:
                state[following] = 1
                path.append(following)
                iterators.append(iter(reads[following]))
    return cycles


def _read_limited(path: Path) -> bytes:
    """The file's bytes, at most one more than MAX_MANIFEST_BYTES (enough to report it as too
    large without reading a huge file whole)."""
    with path.open("rb") as stream:
        return stream.read(MAX_MANIFEST_BYTES + 1)


def parse_manifest(path: str | Path, text: str) -> Manifest:
    """A manifest from text (an editor's unsaved buffer); `path` locates its files."""
    return _Loader(Path(path), text).load()


MANIFEST_NAMES = ("calcformula.yaml", "calcformula.yml")


def find_manifest(folder: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None
