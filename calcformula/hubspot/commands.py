"""The CLI commands that talk to HubSpot: plan, push, pull, schema pull (thin layers over
calcformula.hubspot)."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from calcformula import terminal
from calcformula.checker import check
from calcformula.hubspot.apply import apply_plan, bad_object_names, pull, schema_pull
from calcformula.hubspot.client import (
    DEFAULT_API_VERSION,
    ConfigurationError,
    DailyLimitError,
    HubSpotClient,
    HubSpotError,
)
from calcformula.hubspot.plan import Action, Plan, make_plan, objects_of, read_state, render_plan
from calcformula.manifest import Manifest, find_manifest, load_manifest
from calcformula.project import managed_schema
from calcformula.render import render_text

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_PENDING = 0, 1, 2, 3
F = TypeVar("F", bound=Callable[..., Any])


CONNECTION_HELP = (
    "Connection: the access token is read from HUBSPOT_ACCESS_TOKEN (a private-app or "
    "service-key token; surrounding whitespace is trimmed, never printed). The API is "
    "https://api.hubapi.com unless HUBSPOT_API_BASE_URL names another https URL (plain http "
    "only for 127.0.0.1, ::1 and localhost). The API version comes from --api-version or "
    f"HUBSPOT_API_VERSION (default {DEFAULT_API_VERSION}). Each request must finish within "
    "CALCFORMULA_HTTP_DEADLINE seconds (60); waits asked for by HubSpot are capped at "
    "CALCFORMULA_HTTP_MAX_WAIT (30) and all retry waits at CALCFORMULA_HTTP_RETRY_BUDGET (120)."
)


def connection_options(function: F) -> F:
    """--api-version and --base-url, and the connection's environment in the help text."""
    function.__doc__ = inspect.cleandoc(function.__doc__ or "") + "\n\n" + CONNECTION_HELP
    function = click.option(
        "--api-version",
        default=None,
        help=f"{DEFAULT_API_VERSION} (default; or $HUBSPOT_API_VERSION), another date "
        "version, or v3 (HubSpot retires v3 in September 2027).",
    )(function)
    function = click.option(
        "--base-url",
        help="API base URL (default: $HUBSPOT_API_BASE_URL or https://api.hubapi.com).",
    )(function)
    return function


def _client(base_url: str | None, api_version: str | None) -> HubSpotClient:
    try:
        return HubSpotClient(
            base_url=base_url,
            api_version=api_version,
            notify=lambda line: click.echo(line, err=True),
        )
    except ConfigurationError as error:
        raise click.UsageError(str(error)) from None


def _manifest(config: str | None) -> Manifest:
    path = Path(config) if config else find_manifest(Path.cwd())
    if path is None:
        raise click.UsageError("no calcformula.yaml here; name one with --config")
    if not path.is_file():
        raise click.UsageError(f"{path}: no such file")
    manifest = load_manifest(path)
    if not manifest.ok:
        errors = [d for d in manifest.diagnostics if d.is_error]
        click.echo(
            render_text(errors, manifest.text, str(path), terminal.colour(sys.stderr)), err=True
        )
        click.echo("the manifest has errors; nothing was sent", err=True)
        sys.exit(EXIT_FOUND)
    return manifest


def _guard(client: HubSpotClient, manifest: Manifest) -> None:
    if manifest.portal_id is None:
        return
    details = client.account_details()
    actual = str(details.get("portalId", ""))
    if actual != str(manifest.portal_id):
        click.echo(
            f"this manifest is for portal {manifest.portal_id}, but the token belongs to "
            f"portal {actual or 'unknown'}; nothing was sent",
            err=True,
        )
        sys.exit(EXIT_FOUND)


def _validate(manifest: Manifest, plan: Plan) -> bool:
    """Every formula checked against the portal's live schema plus the managed properties."""
    ok = True
    for prop in manifest.properties:
        schemas = {prop.object: plan.states[prop.object].schema(prop.object)}
        schema = managed_schema(manifest, prop.object, schemas)
        result = check(
            prop.formula, schema=schema, declared_type=prop.type, options=prop.option_values or None
        )
        errors = [d for d in result.diagnostics if d.is_error]
        if errors:
            ok = False
            where = str(prop.formula_file or f"{manifest.path} ({prop.object}/{prop.name})")
            click.echo(
                render_text(errors, prop.formula, where, terminal.colour(sys.stderr)), err=True
            )
    return ok


def _run(action: Callable[[], int], client: HubSpotClient) -> None:
    try:
        code = action()
    except DailyLimitError as error:
        click.echo(client.redact(error.message), err=True)
        code = EXIT_FOUND
    except HubSpotError as error:
        click.echo(client.redact(error.message), err=True)
        code = EXIT_FOUND
    finally:
        client.close()
    summary = client.retry_summary()
    if summary:
        click.echo(summary, err=True)
    sys.exit(code)


def _plan(client: HubSpotClient, manifest: Manifest, prune: bool) -> Plan:
    _guard(client, manifest)
    states = {name: read_state(client, name) for name in objects_of(manifest)}
    return make_plan(manifest, states, prune=prune)


@click.command("plan")
@click.option("--config", help="The manifest (default: ./calcformula.yaml).")
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--prune",
    is_flag=True,
    help="Also list calculation properties the manifest "
    "does not manage, which push --prune would archive.",
)
@connection_options
def plan_command(
    config: str | None, output: str, prune: bool, base_url: str | None, api_version: str | None
) -> None:
    """Show what push would do. Exit 0: nothing to do; 3: changes pending; 1: conflicts or
    errors; 2: usage error."""
    manifest = _manifest(config)
    client = _client(base_url, api_version)

    def run() -> int:
        plan = _plan(client, manifest, prune)
        valid = _validate(manifest, plan)
        if output == "json":
            click.echo(json.dumps(plan.to_json(), indent=2, ensure_ascii=False, default=str))
        else:
            for line in render_plan(plan):
                click.echo(line)
        if plan.conflicts or not valid:
            return EXIT_FOUND
        return EXIT_PENDING if plan.pending else EXIT_OK

    _run(run, client)


@click.command("push")
@click.option("--config", help="The manifest (default: ./calcformula.yaml).")
@click.option("--yes", is_flag=True, help="Apply without asking (required without a terminal).")
@click.option(
    "--prune",
    is_flag=True,
    help="Also archive calculation properties the manifest "
    "does not manage (asks for confirmation, or needs --yes).",
)
@connection_options
def push_command(
    config: str | None, yes: bool, prune: bool, base_url: str | None, api_version: str | None
) -> None:
    """Create and update the manifest's calculation properties in HubSpot."""
    manifest = _manifest(config)
    client = _client(base_url, api_version)

    def run() -> int:
        plan = _plan(client, manifest, prune)
        if not _validate(manifest, plan):
            click.echo("a formula has errors; nothing was sent", err=True)
            return EXIT_FOUND
        for line in render_plan(plan):
            click.echo(line)
        if plan.conflicts:
            click.echo("conflicts block the push; nothing was sent", err=True)
            return EXIT_FOUND
        if not plan.pending:
            click.echo("the portal already matches the manifest; nothing to do")
            return EXIT_OK
        archiving = [p for p in plan.properties if p.action is Action.ARCHIVE]
        if not yes:
            if not sys.stdin.isatty():
                click.echo("not a terminal: run again with --yes to apply this plan", err=True)
                return EXIT_FOUND
            if not click.confirm("Apply this plan?", default=False):
                click.echo("nothing was sent", err=True)
                return EXIT_FOUND
            if archiving and not click.confirm(
                f"Archive {len(archiving)} propert{'y' if len(archiving) == 1 else 'ies'} "
                "(HubSpot keeps archived names reserved)?",
                default=False,
            ):
                click.echo("nothing was sent", err=True)
                return EXIT_FOUND
        result = apply_plan(
            client, plan, lambda line: click.echo(client.redact(line)), archive=prune
        )
        click.echo(
            f"{client.writes} write(s); calculated values appear in HubSpot 30 s to a few "
            "minutes after a push"
        )
        return EXIT_OK if result.ok else EXIT_FOUND

    _run(run, client)


def _object_names(objects: tuple[str, ...]) -> None:
    bad = bad_object_names(list(objects))
    if bad:
        raise click.UsageError(
            f"not a HubSpot object name: {', '.join(repr(n) for n in bad)} (a lower-case name "
            "such as deals, or a type id such as 2-12345)"
        )


@click.command("pull")
@click.argument("objects", nargs=-1, required=True)
@click.option(
    "--output",
    "folder",
    default=".",
    show_default=True,
    help="Where to write calcformula.yaml, formulas/ and schema/.",
)
@connection_options
def pull_command(
    objects: tuple[str, ...], folder: str, base_url: str | None, api_version: str | None
) -> None:
    """Write the portal's calculation properties as a manifest and .calc files."""
    _object_names(objects)
    client = _client(base_url, api_version)

    def run() -> int:
        problems: list[str] = []
        path, count = pull(client, list(objects), Path(folder), problems)
        for problem in problems:
            click.echo(client.redact(problem), err=True)
        click.echo(f"wrote {path} with {count} calculation propert{'y' if count == 1 else 'ies'}")
        return EXIT_FOUND if problems else EXIT_OK

    _run(run, client)


@click.group("schema")
def schema_group() -> None:
    """Property schemas (HubSpot's property JSON per object)."""


@schema_group.command("pull")
@click.argument("objects", nargs=-1, required=True)
@click.option("--output", "folder", default="schema", show_default=True)
@connection_options
def schema_pull_command(
    objects: tuple[str, ...], folder: str, base_url: str | None, api_version: str | None
) -> None:
    """Save HubSpot's property JSON of each object as <object>.json."""
    _object_names(objects)
    client = _client(base_url, api_version)

    def run() -> int:
        for path in schema_pull(client, list(objects), Path(folder)):
            click.echo(f"wrote {path}")
        return EXIT_OK

    _run(run, client)


@click.command("verify")
@click.option("--from-portal", is_flag=True, help="Read-only: compare with the portal's records.")
@click.option(
    "--records",
    "records_path",
    type=click.Path(dir_okay=False),
    help="Import these sample records into a sandbox and compare (see docs/verify.md).",
)
@click.option("--config", help="The manifest (default: ./calcformula.yaml).")
@click.option("--object", "object_name", help="Only this object's properties.")
@click.option(
    "--limit", default=1000, show_default=True, help="--from-portal: records per property."
)
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--keep", is_flag=True, help="--records: do not archive the imported records.")
@click.option(
    "--allow-production",
    is_flag=True,
    help="--records: allow a production account (imports and archives records there).",
)
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    help="--records: seconds to wait for the import, then for HubSpot's calculated values.",
)
@click.option("--poll", default=10.0, show_default=True, help="--records: seconds between checks.")
@connection_options
def verify_command(
    from_portal: bool,
    records_path: str | None,
    config: str | None,
    object_name: str | None,
    limit: int,
    output: str,
    keep: bool,
    allow_production: bool,
    timeout: float,
    poll: float,
    base_url: str | None,
    api_version: str | None,
) -> None:
    """Compare what HubSpot computes with what calcformula computes. Exit 0: all agree;
    1: a mismatch (or an import problem); 2: usage error."""
    from calcformula.hubspot.verify import (
        VerifyError,
        check_waits,
        render,
        verify_from_portal,
        verify_with_records,
    )

    if from_portal == (records_path is not None):
        raise click.UsageError("give --from-portal or --records FILE (one of them)")
    if records_path is not None and not Path(records_path).is_file():
        raise click.UsageError(f"{records_path}: no such file")
    if limit < 1:
        raise click.UsageError("--limit must be at least 1")
    try:
        check_waits(timeout, poll)
    except VerifyError as error:
        raise click.UsageError(str(error)) from None
    manifest = _manifest(config)
    client = _client(base_url, api_version)

    def say(line: str) -> None:
        click.echo(client.redact(line), err=True)

    def push() -> bool:
        plan = _plan(client, manifest, prune=False)
        if not _validate(manifest, plan) or plan.conflicts:
            return False
        if plan.pending:
            for line in render_plan(plan):
                say(line)
            return apply_plan(client, plan, say, archive=False).ok
        return True

    def run() -> int:
        try:
            if from_portal:
                _guard(client, manifest)
                report = verify_from_portal(client, manifest, object_name, limit, say)
            else:
                assert records_path is not None
                report = verify_with_records(
                    client,
                    manifest,
                    Path(records_path),
                    object_name,
                    push,
                    keep=keep,
                    allow_production=allow_production,
                    timeout=timeout,
                    poll=poll,
                    say=say,
                )
        except VerifyError as error:
            click.echo(client.redact(str(error)), err=True)
            return EXIT_FOUND
        if output == "json":
            click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str))
        else:
            for line in render(report):
                click.echo(client.redact(line))
        return EXIT_OK if report.agrees else EXIT_FOUND

    _run(run, client)


COMMANDS = [plan_command, push_command, pull_command, schema_group, verify_command]
