"""What the server knows about a document: its formula regions and their checks.

A `.calc` file is one formula. A `calcformula.yaml` holds several: each inline formula is a
region whose offsets map into the YAML text, so diagnostics, hover and completion work inside
the manifest too. Everything here is computed by the calcformula library; the server only
converts positions.
"""

from __future__ import annotations

import bisect
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from calcformula.checker import CheckResult, check
from calcformula.diagnostics import Diagnostic
from calcformula.evaluator import PortalContext
from calcformula.manifest import (
    MANIFEST_NAMES,
    ManagedProperty,
    Manifest,
    find_manifest,
    load_manifest,
    parse_manifest,
)
from calcformula.project import managed_schema, manifest_schemas
from calcformula.records import RecordRow, read_records
from calcformula.schema import Schema, SchemaError, load_schemas
from calcformula.span import Span


@dataclass
class Settings:
    """Client settings (`calcformula.*`), with workspace defaults."""

    schema: str | None = None  # a schema file or folder for standalone .calc files
    object_name: str | None = None  # the object of standalone .calc files
    format_style: str = "canonical"
    lint: bool = True  # False: only errors, no warnings

    @classmethod
    def from_client(cls, data: object) -> Settings:
        if not isinstance(data, dict):
            return cls()
        section = data.get("calcformula", data)
        if not isinstance(section, dict):
            return cls()
        style = section.get("formatStyle", "canonical")
        return cls(
            schema=section.get("schema") if isinstance(section.get("schema"), str) else None,
            object_name=section.get("object") if isinstance(section.get("object"), str) else None,
            format_style=style if style in ("canonical", "hubspot") else "canonical",
            lint=section.get("lint", True) is not False,
        )


@dataclass
class Region:
    """One formula inside a document: `text`, and where its characters are in the document."""

    text: str
    offsets: list[int]  # document offset of each formula character, plus one past the end
    result: CheckResult
    schema: Schema | None
    prop: ManagedProperty | None = None
    sample: Sample | None = None  # the first sample record, when the manifest names samples

    def to_document(self, offset: int) -> int:
        return self.offsets[max(0, min(offset, len(self.offsets) - 1))]

    def from_document(self, offset: int) -> int | None:
        """The formula offset at a document offset, or None when outside this region."""
        if not self.offsets or offset < self.offsets[0] or offset > self.offsets[-1]:
            return None
        return bisect.bisect_right(self.offsets, offset) - 1


@dataclass
class Analysis:
    regions: list[Region] = field(default_factory=list)
    diagnostics: list[tuple[Span, Diagnostic]] = field(default_factory=list)  # document spans
    manifest: Manifest | None = None

    def region_at(self, offset: int) -> tuple[Region, int] | None:
        for region in self.regions:
            inner = region.from_document(offset)
            if inner is not None:
                return region, inner
        return None


@dataclass(frozen=True)
class Sample:
    """The record whose values hover and inlay hints show (`samples:` in the manifest)."""

    record: dict[str, object]
    record_id: str
    portal: PortalContext | None


class Workspace:
    """The manifest and schemas of the workspace, reloaded when they change."""

    def __init__(self, root: Path | None, settings: Settings | None = None) -> None:
        self.root = root
        self.settings = settings or Settings()
        self._manifest_cache: tuple[float, Manifest] | None = None
        self._schemas: dict[str, Schema] | None = None
        self._samples: dict[tuple[str, float], Sample | None] = {}
        self.generation = 0  # bumped whenever settings, schemas or the manifest change

    def invalidate(self) -> None:
        self._manifest_cache = None
        self._schemas = None
        self._samples = {}
        self.generation += 1

    def manifest(self) -> Manifest | None:
        if self.root is None:
            return None
        path = find_manifest(self.root)
        if path is None:
            return None
        stamp = path.stat().st_mtime
        if self._manifest_cache is None or self._manifest_cache[0] != stamp:
            self._manifest_cache = (stamp, load_manifest(path))
            self._schemas = None
            self.generation += 1
        return self._manifest_cache[1]

    def schemas(self) -> dict[str, Schema]:
        if self._schemas is None:
            manifest = self.manifest()
            schemas: dict[str, Schema] = {}
            if manifest is not None:
                schemas, _ = manifest_schemas(manifest)
            if self.settings.schema:
                path = Path(self.settings.schema)
                if not path.is_absolute() and self.root is not None:
                    path = self.root / path
                with contextlib.suppress(SchemaError):
                    schemas = {**load_schemas(path), **schemas}
            self._schemas = schemas
        return self._schemas

    def sample(self, object_name: str) -> Sample | None:
        """The first record of the manifest's `samples:` file (None without one, or when it
        cannot be read: hover and hints then stay as they are without samples)."""
        manifest = self.manifest()
        if manifest is None or manifest.samples is None:
            return None
        try:
            stamp = manifest.samples.stat().st_mtime
        except OSError:
            return None
        key = (object_name, stamp)
        if key not in self._samples:
            self._samples[key] = self._read_sample(manifest, object_name)
        return self._samples[key]

    def _read_sample(self, manifest: Manifest, object_name: str) -> Sample | None:
        assert manifest.samples is not None
        portal = None
        try:
            if manifest.portal is not None and manifest.portal.is_file():
                portal = PortalContext.load(manifest.portal)
            for row in read_records(manifest.samples, self.schemas().get(object_name)):
                if isinstance(row, RecordRow):
                    record_id = row.id if row.id is not None else str(row.line or 1)
                    return Sample(row.properties, record_id, portal)
        except (OSError, ValueError):
            return None
        return None

    def schema_files(self) -> list[Path]:
        manifest = self.manifest()
        files: list[Path] = []
        if manifest is not None and manifest.schema is not None:
            files.extend(
                sorted(manifest.schema.glob("*.json"))
                if manifest.schema.is_dir()
                else [manifest.schema]
            )
        return files

    def property_for(self, path: Path) -> tuple[Manifest, ManagedProperty] | None:
        manifest = self.manifest()
        if manifest is None:
            return None
        for prop in manifest.properties:
            if prop.formula_file is not None and prop.formula_file.resolve() == path.resolve():
                return manifest, prop
        return None

    def analyze(self, path: Path, text: str) -> Analysis:
        if path.name in MANIFEST_NAMES:
            return self._analyze_manifest(path, text)
        return self._analyze_formula(path, text)

    def _lint(self, diagnostics: tuple[Diagnostic, ...]) -> list[Diagnostic]:
        if self.settings.lint:
            return list(diagnostics)
        return [d for d in diagnostics if d.is_error]

    def _analyze_formula(self, path: Path, text: str) -> Analysis:
        owner = self.property_for(path)
        schemas = self.schemas()
        if owner is not None:
            manifest, prop = owner
            schema = managed_schema(manifest, prop.object, schemas)
            result = check(
                text, schema=schema, declared_type=prop.type, options=prop.option_values or None
            )
            sample = self.sample(prop.object)
        else:
            prop = None
            schema = None
            if self.settings.object_name and self.settings.object_name in schemas:
                schema = schemas[self.settings.object_name]
            elif len(schemas) == 1:
                schema = next(iter(schemas.values()))
            result = check(text, schema=schema)
            sample = None
        region = Region(text, list(range(len(text) + 1)), result, schema, prop, sample)
        analysis = Analysis([region])
        analysis.diagnostics = [(d.span, d) for d in self._lint(result.diagnostics)]
        return analysis

    def _analyze_manifest(self, path: Path, text: str) -> Analysis:
        manifest = parse_manifest(path, text)
        analysis = Analysis(manifest=manifest)
        analysis.diagnostics = [(d.span, d) for d in manifest.diagnostics]
        index = manifest.index
        schemas = self.schemas()
        for prop in manifest.properties:
            if prop.formula_file is not None or prop.formula_origin is None:
                continue
            offsets = manifest.formula_offsets(prop)
            if offsets is None:
                continue
            schema = managed_schema(manifest, prop.object, schemas)
            result = check(
                prop.formula,
                schema=schema,
                declared_type=prop.type,
                options=prop.option_values or None,
            )
            region = Region(prop.formula, offsets, result, schema, prop, self.sample(prop.object))
            analysis.regions.append(region)
            for diagnostic in self._lint(result.diagnostics):
                start = region.to_document(diagnostic.span.start)
                end = region.to_document(diagnostic.span.end)
                analysis.diagnostics.append((index.span(start, max(start, end)), diagnostic))
        return analysis
