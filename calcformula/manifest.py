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
from calcformula.diagnostics import Diagnostic, Fix, TextEdit
from calcformula.parser import decode
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
                        fixes=(Fix(f"Rename to `{close[0]}`", (TextEdit(span, close[0]),)),)
                        if close
                        else (),
                    )
                )
                continue
            result[key] = (key_node, value_node)
        return result

    def load(self) -> Manifest:
        manifest = self.manifest
        try:
            root = yaml.compose(manifest.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            offset = self.index.offset(line, column)
            self.report(
                codes.MANIFEST_SYNTAX.at(
                    self.index.span(offset, offset), problem=str(error.problem or error)
                )
            )
            return manifest
        except yaml.YAMLError as error:
            self.report(codes.MANIFEST_SYNTAX.at(self.index.span(0, 0), problem=str(error)))
            return manifest
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
                if value is not None:
                    path = base / value
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
                self.report(
                    codes.MANIFEST_DUPLICATE.at(
                        prop.span or self.span(entry), name=prop.name, object=prop.object
                    )
                )
                continue
            seen[prop.key] = prop
            manifest.properties.append(prop)
        return manifest

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
                (Fix(f"Rename to `{fixed}`", (TextEdit(span, fixed),)),)
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
            obj = self.scalar(fields["object"][1], "object")
            label = self.scalar(fields["label"][1], "label")
            if name and obj and label is not None:
                self.manifest.groups.append(ManagedGroup(obj, name, label))

    def _property(self, entry: yaml.Node, base: Path) -> ManagedProperty | None:
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
        if not complete:
            return None
        obj = self.scalar(fields["object"][1], "object")
        label = self.scalar(fields["label"][1], "label")
        group = self.scalar(fields["group"][1], "group")
        kind_node = fields["type"][1]
        kind = self.scalar(kind_node, "type")
        if kind is not None and kind not in TYPES:
            self.report(
                codes.MANIFEST_BAD_VALUE.at(
                    self.span(kind_node), key="type", expected=" | ".join(TYPES), actual=f"`{kind}`"
                )
            )
            kind = None
        field_type = "calculation_equation"
        if "field_type" in fields:
            value = self.scalar(fields["field_type"][1], "field_type")
            if kind is not None and value is not None and value not in FIELD_TYPES[kind]:
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
        else:
            node = fields["formula_file"][1]
            value = self.scalar(node, "formula_file", "a path")
            if value is not None:
                formula_file = base / value
                try:
                    text, problems = decode(formula_file.read_bytes())
                    formula = text
                    self.manifest.diagnostics.extend(problems)
                except OSError as error:
                    self.report(
                        codes.MANIFEST_FILE.at(
                            self.span(node),
                            problem=f"formula_file `{value}` cannot be read: {error.strerror}",
                        )
                    )
                    return None
        description = ""
        if "description" in fields:
            description = self.scalar(fields["description"][1], "description") or ""
        if None in (name, obj, label, group, kind):
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
    data = path.read_bytes()
    text, problems = decode(data)
    loader = _Loader(path, text)
    loader.manifest.diagnostics.extend(problems)
    return loader.load()


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
