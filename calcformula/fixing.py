"""`check --fix`: applying the fixes diagnostics carry, to `.calc` files and to the formulas
inside `calcformula.yaml`, without touching anything else.

Fixes are taken with `diagnostics.select_fixes` (safe ones only unless `unsafe`), the text is
checked again and fixed again until nothing changes (at most `MAX_ROUNDS` rounds). In a
manifest only the formula's own characters are edited, in the YAML scalar style it is
written in; the result is loaded again and must hold exactly the fixed formula and every other
value unchanged, otherwise the fix is skipped and said so. Writing is the caller's business
(through `calcformula.safe_io`), so `--diff` shares all of this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from calcformula.checker import check
from calcformula.diagnostics import (
    Diagnostic,
    TextEdit,
    apply_edits,
    select_fixes,
    sort_diagnostics,
)
from calcformula.manifest import ManagedProperty, Manifest, parse_manifest
from calcformula.parser import decode
from calcformula.project import managed_schema, manifest_schemas
from calcformula.schema import Schema

MAX_ROUNDS = 10
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Applied:
    """One fix taken: where (1-based line of the file) and which."""

    line: int
    code: str
    title: str


@dataclass
class FileFix:
    """The outcome for one file: its bytes before and after, what was applied, what not."""

    path: Path
    display: str
    before: bytes
    after: bytes
    applied: list[Applied] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def fix_text(
    text: str, diagnose: Callable[[str], Sequence[Diagnostic]], unsafe: bool
) -> tuple[str, list[Applied]]:
    """Fix `text` until the diagnostics offer no more fixes (or MAX_ROUNDS). Overlapping fixes
    wait for the next round, which sees the text the earlier ones made."""
    applied: list[Applied] = []
    seen = {text}
    for _ in range(MAX_ROUNDS):
        chosen = select_fixes(sort_diagnostics(diagnose(text)), unsafe=unsafe)
        if not chosen:
            break
        fixed = apply_edits(text, [edit for _, fix in chosen for edit in fix.edits])
        if fixed in seen:
            break  # fixes that undo each other: stop rather than loop
        applied.extend(Applied(d.span.line, d.code, fix.title) for d, fix in chosen)
        seen.add(fixed)
        text = fixed
    return text, applied


def fix_formula_file(
    path: Path,
    display: str,
    schema: Schema | None,
    declared_type: str | None,
    unsafe: bool,
    options: tuple[str, ...] | None = None,
) -> FileFix:
    """Fixes for a `.calc` file (a BOM and the line breaks are kept as they are)."""
    data = path.read_bytes()
    result = FileFix(path, display, data, data)
    text, problems = decode(data)
    if problems:
        result.skipped.append(
            f"{display}: not fixed: the file is not valid UTF-8 (CF001), so it cannot be "
            "rewritten exactly"
        )
        return result
    fixed, applied = fix_text(
        text,
        lambda t: check(t, schema=schema, declared_type=declared_type, options=options).diagnostics,
        unsafe,
    )
    result.applied = applied
    result.after = (BOM if data.startswith(BOM) else b"") + fixed.encode("utf-8")
    return result


def _property_check(
    manifest: Manifest, prop: ManagedProperty, schemas: dict[str, Schema]
) -> Callable[[str], Sequence[Diagnostic]]:
    schema = managed_schema(manifest, prop.object, schemas)

    def diagnose(text: str) -> Sequence[Diagnostic]:
        options = prop.option_values or None
        return check(text, schema=schema, declared_type=prop.type, options=options).diagnostics

    return diagnose


def _escape(text: str, style: str, indent: int) -> str | None:
    """`text` as it is written inside a YAML scalar of `style` (None: it cannot be)."""
    if style == "plain":
        return text if "\n" not in text else None
    if style == "'":
        return text.replace("'", "''") if "\n" not in text else None
    if style == '"':
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return escaped if "\n" not in text else None
    if style == "|":
        return text.replace("\n", "\n" + " " * indent)
    return None


def _formula_edit(manifest: Manifest, prop: ManagedProperty, new: str) -> TextEdit | None:
    """One edit of the manifest text that turns the property's formula into `new`: the span
    between the common prefix and suffix, in the scalar's own style."""
    old = prop.formula
    offsets = manifest.formula_offsets(prop)
    if offsets is None or prop.formula_origin is None:
        return None
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    start, end = offsets[prefix], offsets[len(old) - suffix]
    replacement = _escape(
        new[prefix : len(new) - suffix], prop.formula_style, prop.formula_origin.column - 1
    )
    if replacement is None:
        return None
    index = manifest.index
    return TextEdit(index.span(start, end), replacement)


def _same_apart_from(before: Manifest, after: Manifest, key: tuple[str, str], new: str) -> bool:
    """Whether `after` is `before` with only the formula of `key` changed, to `new`."""
    if [p.key for p in before.properties] != [p.key for p in after.properties]:
        return False
    if before.groups != after.groups or (before.schema, before.portal, before.portal_id) != (
        after.schema,
        after.portal,
        after.portal_id,
    ):
        return False
    if sorted(d.code for d in before.diagnostics) != sorted(d.code for d in after.diagnostics):
        return False
    for old, fresh in zip(before.properties, after.properties, strict=True):
        expected = new if old.key == key else old.formula
        if fresh.formula != expected or fresh.formula_style != old.formula_style:
            return False
        fields = ("label", "type", "group", "field_type", "description", "options", "formula_file")
        if any(getattr(old, f) != getattr(fresh, f) for f in fields):
            return False
    return True


def fix_manifest(path: Path, display: str, unsafe: bool) -> list[FileFix]:
    """Fixes for a manifest (its inline formulas and, with `unsafe`, its own fixes such as a
    misspelt key) and for the formula files it names."""
    data = path.read_bytes()
    result = FileFix(path, display, data, data)
    results = [result]
    text, problems = decode(data)
    if problems:
        result.skipped.append(f"{display}: not fixed: the file is not valid UTF-8 (CF001)")
        return results
    manifest = parse_manifest(path, text)
    schemas, _ = manifest_schemas(manifest)
    for prop in manifest.properties:
        if prop.formula_file is None:
            continue
        results.append(
            fix_formula_file(
                prop.formula_file,
                str(prop.formula_file),
                managed_schema(manifest, prop.object, schemas),
                prop.type,
                unsafe,
                prop.option_values or None,
            )
        )
    given_up: set[tuple[str, str]] = set()
    for _ in range(len(manifest.properties) + MAX_ROUNDS):
        before = text
        text = _manifest_round(manifest, display, unsafe, result, given_up)
        if text == before:
            break
        manifest = parse_manifest(path, text)
    result.after = (BOM if data.startswith(BOM) else b"") + text.encode("utf-8")
    return results


def _manifest_round(
    manifest: Manifest,
    display: str,
    unsafe: bool,
    result: FileFix,
    given_up: set[tuple[str, str]],
) -> str:
    """One edit of the manifest: its own fixes, or one property's fixed formula."""
    text = manifest.text
    schemas, _ = manifest_schemas(manifest)
    # The manifest's own fixes (renaming a key or a name) are all guesses: unsafe.
    own = select_fixes(sort_diagnostics(manifest.diagnostics), unsafe=unsafe)
    taken: list[TextEdit] = [edit for _, fix in own for edit in fix.edits]
    if taken:
        result.applied.extend(Applied(d.span.line, d.code, fix.title) for d, fix in own)
        return apply_edits(text, taken)
    # Bottom up: an edit never moves the lines of the properties above it, so every line
    # reported is a line of the file as it was.
    for prop in reversed(manifest.properties):
        if prop.formula_file is not None or prop.formula_origin is None or prop.key in given_up:
            continue
        fixed, applied = fix_text(prop.formula, _property_check(manifest, prop, schemas), unsafe)
        if not applied or fixed == prop.formula:
            continue
        origin = prop.formula_origin
        lines = [origin.line + (a.line - 1 if prop.formula_style == "|" else 0) for a in applied]
        edit = _formula_edit(manifest, prop, fixed)
        candidate = apply_edits(text, [edit]) if edit is not None else None
        if candidate is not None:
            reloaded = parse_manifest(manifest.path, candidate)
            if not _same_apart_from(manifest, reloaded, prop.key, fixed):
                candidate = None
        if candidate is None:
            given_up.add(prop.key)
            for line, item in zip(lines, applied, strict=True):
                result.skipped.append(
                    f"{display}:{line}: {item.code} not fixed: the fix cannot be written in "
                    f"this formula's YAML {_style_name(prop.formula_style)} exactly; apply it "
                    f"by hand ({item.title})"
                )
            continue
        result.applied.extend(
            Applied(line, item.code, item.title) for line, item in zip(lines, applied, strict=True)
        )
        return candidate  # one property per round: the next round sees fresh positions
    return text


def _style_name(style: str) -> str:
    return {
        "plain": "plain scalar",
        "'": "single-quoted scalar",
        '"': "double-quoted scalar",
        "|": "literal block",
        ">": "folded block",
    }.get(style, "scalar")
