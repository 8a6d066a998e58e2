"""Finding and checking what a user points calcformula at: `.calc` files, manifests, folders.

The CLI and the language server both check through here, so both report the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from calcformula import codes
from calcformula.checker import CheckResult, check
from calcformula.diagnostics import Diagnostic, Fix, Related, Severity, TextEdit, sort_diagnostics
from calcformula.parser import decode
from calcformula.safe_io import is_temp_name
from calcformula.schema import PropertyInfo, Schema, SchemaError, load_schemas
from calcformula.span import LineIndex, Span

if TYPE_CHECKING:
    # The manifest module loads YAML: commands on .calc files and `eval` do not pay for it.
    from calcformula.manifest import ManagedProperty, Manifest


class UsageError(Exception):
    """The user's request cannot be carried out (a missing file, a folder without formulas)."""


@dataclass
class FileReport:
    """Diagnostics of one file, with its text for rendering carets."""

    path: str
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class Targets:
    manifests: list[Path] = field(default_factory=list)
    formulas: list[Path] = field(default_factory=list)
    stdin: bool = False
    # Files a folder search found but left alone, with why (a symbolic link out of the folder).
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def inside(path: Path, folder: Path) -> bool:
    """Whether `path`, symbolic links followed, is `folder` or inside it."""
    try:
        resolved, root = path.resolve(), folder.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        return False
    return resolved == root or root in resolved.parents


def _search(folder: Path, pattern: str, targets: Targets) -> list[Path]:
    found = []
    for candidate in sorted(folder.rglob(pattern)):
        if is_temp_name(candidate.name) or not candidate.is_file():
            continue
        if not inside(candidate, folder):
            targets.skipped.append((candidate, "a symbolic link to a file outside the folder"))
            continue
        found.append(candidate)
    return found


def collect(paths: Iterable[str]) -> Targets:
    """Sort paths into manifests and .calc files; folders are searched for both, and .calc
    files that a manifest found alongside uses are checked through that manifest."""
    from calcformula.manifest import MANIFEST_NAMES, load_manifest

    targets = Targets()
    for raw in paths:
        if raw == "-":
            targets.stdin = True
            continue
        path = Path(raw)
        if path.is_dir():
            manifests = sorted(p for name in MANIFEST_NAMES for p in _search(path, name, targets))
            formulas = _search(path, "*.calc", targets)
            if not manifests and not formulas:
                raise UsageError(f"{raw}: no .calc files or calcformula.yaml in this folder")
            targets.manifests.extend(manifests)
            targets.formulas.extend(formulas)
        elif path.is_file():
            if path.name in MANIFEST_NAMES or path.suffix in (".yaml", ".yml"):
                targets.manifests.append(path)
            else:
                targets.formulas.append(path)
        else:
            raise UsageError(f"{raw}: no such file or folder")
    used: set[Path] = set()
    for manifest_path in targets.manifests:
        try:
            manifest = load_manifest(manifest_path)
        except OSError:
            continue
        used.update(p.formula_file.resolve() for p in manifest.properties if p.formula_file)
    targets.formulas = [p for p in dict.fromkeys(targets.formulas) if p.resolve() not in used]
    targets.manifests = list(dict.fromkeys(targets.manifests))
    return targets


def load_schema_option(path: str | None, object_name: str | None) -> Schema | None:
    """The schema for standalone formulas: a file, or a folder plus --object."""
    if path is None:
        return None
    try:
        schemas = load_schemas(path)
    except SchemaError as error:
        raise UsageError(str(error)) from None
    if object_name is not None:
        if object_name not in schemas:
            raise UsageError(
                f"no schema for object `{object_name}` in {path} "
                f"(found: {', '.join(sorted(schemas))})"
            )
        return schemas[object_name]
    if len(schemas) == 1:
        return next(iter(schemas.values()))
    raise UsageError(f"{path} holds schemas of several objects; choose one with --object")


def managed_schema(
    manifest: Manifest, object_name: str, schemas: dict[str, Schema]
) -> Schema | None:
    """The object's schema plus the manifest's own properties of that object (a formula may
    read another managed property that does not exist in the portal yet)."""
    base = schemas.get(object_name)
    if base is None and manifest.schema is not None:
        return None
    properties = dict(base.properties) if base is not None else {}
    for prop in manifest.properties:
        if prop.object == object_name and prop.name not in properties:
            properties[prop.name] = PropertyInfo(
                prop.name,
                prop.type,
                prop.field_type,
                prop.label,
                prop.group,
                options=prop.option_values,
                calculation_formula=prop.formula,
                object_name=object_name,
            )
    if base is None:
        return None
    return Schema(properties, object_name)


def manifest_schemas(manifest: Manifest) -> tuple[dict[str, Schema], list[Diagnostic]]:
    if manifest.schema is None:
        return {}, []
    try:
        return load_schemas(manifest.schema), []
    except SchemaError as error:
        span = manifest.properties[0].span if manifest.properties else None
        where = span or LineIndex(manifest.text).span(0, 0)
        return {}, [codes.MANIFEST_FILE.at(where, problem=str(error))]


def check_property(
    manifest: Manifest, prop: ManagedProperty, schemas: dict[str, Schema]
) -> tuple[CheckResult, Schema | None]:
    schema = managed_schema(manifest, prop.object, schemas)
    result = check(
        prop.formula,
        schema=schema,
        declared_type=prop.type or None,
        options=prop.option_values or None,
    )
    return result, schema


def check_manifest(path: Path, display: str) -> list[FileReport]:
    from calcformula.manifest import load_manifest

    try:
        manifest = load_manifest(path)
    except OSError as error:
        raise UsageError(f"{display}: {error.strerror}") from None
    report = FileReport(display, manifest.text, list(manifest.diagnostics))
    reports = [report]
    schemas, problems = manifest_schemas(manifest)
    report.diagnostics.extend(problems)
    for prop in [*manifest.properties, *manifest.partial]:
        if (
            manifest.schema is not None
            and prop.object
            and prop.object not in schemas
            and not problems
        ):
            report.diagnostics.append(
                codes.MANIFEST_FILE.at(
                    prop.span or report_span(manifest),
                    severity=Severity.INFO,
                    problem=f"no schema file for `{prop.object}` in {manifest.schema}; its "
                    f"property names are not checked (calcformula schema pull "
                    f"{prop.object})",
                )
            )
        result, _ = check_property(manifest, prop, schemas)
        if prop.formula_file is not None:
            formula_display = _relative(prop.formula_file)
            reports.append(FileReport(formula_display, prop.formula, list(result.diagnostics)))
        else:
            for diagnostic in result.diagnostics:
                mapped = manifest.map_span(prop, diagnostic.span)
                fixes = (
                    diagnostic.fixes
                    if mapped.end - mapped.start == (diagnostic.span.end - diagnostic.span.start)
                    else ()
                )
                if fixes:
                    fixes = tuple(_shift_fix(f, manifest, prop) for f in fixes)
                report.diagnostics.append(
                    Diagnostic(
                        diagnostic.code,
                        diagnostic.severity,
                        diagnostic.message,
                        mapped,
                        fixes,
                        tuple(
                            Related(manifest.map_span(prop, r.span), r.message)
                            for r in diagnostic.related
                        ),
                        (("property", f"{prop.object}.{prop.name}"),),
                    )
                )
    for item in reports:
        item.diagnostics = sort_diagnostics(item.diagnostics)
    return reports


def report_span(manifest: Manifest) -> Span:
    return LineIndex(manifest.text).span(0, 0)


def _shift_fix(fix: Fix, manifest: Manifest, prop: ManagedProperty) -> Fix:
    return Fix(
        fix.title,
        tuple(TextEdit(manifest.map_span(prop, edit.span), edit.new_text) for edit in fix.edits),
        fix.safe,
    )


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def check_formula_file(
    path: Path, schema: Schema | None, declared_type: str | None, display: str | None = None
) -> FileReport:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None
    text, problems = decode(data)
    result = check(text, schema=schema, declared_type=declared_type)
    return FileReport(
        display or str(path), text, sort_diagnostics([*problems, *result.diagnostics])
    )
