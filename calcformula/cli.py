"""The `calcformula` command: a thin layer over the library.

Exit codes (as ruff): 0 no errors, 1 errors found (or `fmt --check` would change a file),
2 usage error or internal failure.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from calcformula import codes
from calcformula.diagnostics import Diagnostic, Severity
from calcformula.formatter import FormatError, format_tree
from calcformula.functions import REGISTRY, lookup
from calcformula.parser import decode, parse
from calcformula.render import diagnostic_record, render_text

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


@dataclass
class Source:
    path: str
    text: str
    diagnostics: list[Diagnostic]


def _read(path: str) -> Source:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    text, problems = decode(data)
    return Source(path, text, problems)


def _formula_files(paths: tuple[str, ...]) -> Iterator[str]:
    for path in paths or (".",):
        if path == "-":
            yield path
            continue
        candidate = Path(path)
        if candidate.is_dir():
            found = sorted(p for p in candidate.rglob("*.calc") if p.is_file())
            if not found:
                raise click.UsageError(f"no .calc files under {path}")
            yield from (str(p) for p in found)
        elif candidate.is_file():
            yield path
        else:
            raise click.UsageError(f"{path}: no such file or folder")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="calcformula")
def main() -> None:
    """Check, format and explain HubSpot calculation-property formulas."""


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--expr", "expression", help="Check this formula instead of files.")
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--strict", is_flag=True, help="Warnings fail the check too.")
def check(paths: tuple[str, ...], expression: str | None, output: str, strict: bool) -> None:
    """Check .calc files (folders are searched; - reads standard input)."""
    sources: list[Source] = []
    if expression is not None:
        if paths:
            raise click.UsageError("give either --expr or paths, not both")
        sources.append(Source("<expr>", expression, []))
    else:
        for path in _formula_files(paths):
            try:
                sources.append(_read(path))
            except OSError as error:
                raise click.UsageError(f"{path}: {error.strerror}") from None
    failed = False
    records: list[dict[str, object]] = []
    counts = {s.value: 0 for s in Severity}
    for source in sources:
        result = parse(source.text)
        diagnostics = [*source.diagnostics, *result.diagnostics]
        for diagnostic in diagnostics:
            counts[diagnostic.severity.value] += 1
            if diagnostic.is_error or (strict and diagnostic.severity is Severity.WARNING):
                failed = True
        if output == "text":
            if diagnostics:
                click.echo(
                    render_text(diagnostics, source.text, source.path, colour=sys.stdout.isatty())
                )
        else:
            records.extend(diagnostic_record(d, source.path) for d in diagnostics)
    summary = {"files": len(sources), **{k + "s": v for k, v in counts.items()}}
    if output == "json":
        click.echo(
            json.dumps({"diagnostics": records, "summary": summary}, indent=2, ensure_ascii=False)
        )
    else:
        click.echo(
            f"{len(sources)} formula(s) checked: {counts['error']} error(s), "
            f"{counts['warning']} warning(s)",
            err=True,
        )
    sys.exit(EXIT_FOUND if failed else EXIT_OK)


@main.command()
@click.argument("paths", nargs=-1)
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if a file would change.")
@click.option("--diff", is_flag=True, help="Print a diff instead of rewriting.")
@click.option(
    "--style", type=click.Choice(["canonical", "hubspot"]), default="canonical", show_default=True
)
def fmt(paths: tuple[str, ...], check_only: bool, diff: bool, style: str) -> None:
    """Format .calc files in place (- formats standard input to standard output)."""
    changed = False
    broken = False
    for path in _formula_files(paths):
        source = _read(path)
        result = parse(source.text)
        if not result.ok:
            click.echo(
                render_text([d for d in result.diagnostics if d.is_error], source.text, path),
                err=True,
            )
            broken = True
            continue
        try:
            formatted = format_tree(result.tree, style) + "\n"  # type: ignore[arg-type]
        except FormatError as error:  # pragma: no cover - result.ok excludes gaps
            click.echo(f"{path}: {error}", err=True)
            broken = True
            continue
        if path == "-" and not (check_only or diff):
            click.echo(formatted, nl=False)
            continue
        if formatted == source.text:
            continue
        changed = True
        if diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        source.text.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        fromfile=path,
                        tofile=path,
                    )
                ),
                nl=False,
            )
        elif check_only:
            click.echo(f"would reformat {path}", err=True)
        else:
            Path(path).write_text(formatted, encoding="utf-8")
            click.echo(f"reformatted {path}", err=True)
    if broken:
        sys.exit(EXIT_FOUND)
    sys.exit(EXIT_FOUND if changed and (check_only or diff) else EXIT_OK)


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of a diagnostic code (e.g. CF106)."""
    entry = codes.CODES.get(code.upper())
    if entry is None:
        raise click.UsageError(f"unknown code {code}; known codes: {', '.join(codes.CODES)}")
    click.echo(f"{entry.code} {entry.name} ({entry.severity.value})\n")
    click.echo(entry.summary)
    click.echo(f"\nEvidence: {entry.evidence}")
    if entry.example.strip():
        click.echo(f"\nExample:\n    {entry.example}")
        for diagnostic in parse(entry.example).diagnostics:
            if diagnostic.code == entry.code:
                click.echo(render_text([diagnostic], entry.example, "example"))


@main.command()
@click.argument("name", required=False)
def functions(name: str | None) -> None:
    """List the functions, or show one."""
    if name is None:
        for function in sorted(REGISTRY.values(), key=lambda f: (f.family, f.name)):
            click.echo(f"{function.family:7} {function.signature:70} {function.evidence.value}")
        return
    entry = lookup(name)
    if entry is None:
        raise click.UsageError(f"unknown function {name}")
    function = entry
    click.echo(function.signature)
    click.echo(f"\n{function.summary}\n\nEvidence: {function.evidence.value}")
    if function.notes:
        click.echo(f"Note: {function.notes}")
    for example in function.examples:
        record = ", ".join(f"{k}={v!r}" for k, v in example.record)
        click.echo(
            f"\n    {example.formula}  =>  {example.result}" + (f"   ({record})" if record else "")
        )


def run() -> None:
    """Entry point that turns unexpected failures into exit code 2 with a message."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as error:
        click.echo(f"calcformula: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(EXIT_USAGE)
