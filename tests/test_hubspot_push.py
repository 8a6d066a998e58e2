"""plan, push, pull and schema pull against a local HubSpot-like server over real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import calcformula
from calcformula.hubspot.client import AmbiguousWrite, DailyLimitError, HubSpotClient
from tests.hubspot_fake import FakeHubSpot

ROOT = Path(__file__).parent.parent
Hub = tuple[FakeHubSpot, str]
EXAMPLES = ROOT / "examples"


def hubspot_defined(object_name: str) -> list[dict[str, Any]]:
    data = json.loads((EXAMPLES / "schema" / f"{object_name}.json").read_text())
    return [{**p, "hubspotDefined": True} for p in data["results"]]


@pytest.fixture
def hubspot() -> Iterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot()
    fake.add_object("deals", ["dealinformation"], hubspot_defined("deals"))
    fake.add_object("contacts", ["contactinformation"], hubspot_defined("contacts"))
    server = fake.serve()
    url = next(server)
    yield fake, url
    next(server, None)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "project")
    return tmp_path / "project"


def run(
    hubspot: Hub,
    *args: str,
    cwd: Path | None = None,
    token: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    fake, url = hubspot
    env = {
        **os.environ,
        "HUBSPOT_ACCESS_TOKEN": token or fake.token,
        "HUBSPOT_API_BASE_URL": url,
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "calcformula", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    # Token hygiene: the token never appears in any output.
    for secret in [s for s in (fake.token, token) if s]:
        assert secret not in result.stdout and secret not in result.stderr
    return result


def test_plan_on_an_empty_portal_lists_creates_and_writes_nothing(
    hubspot: Hub, project: Path
) -> None:
    fake, _ = hubspot
    result = run(hubspot, "plan", cwd=project)
    assert result.returncode == 3, result.stderr  # changes pending
    assert "+ deals/cf_days_to_close: create" in result.stdout
    assert "8 to create" in result.stdout
    assert fake.writes == []


def test_push_then_push_again_makes_zero_writes(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    first = run(hubspot, "push", "--yes", cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("verified") == 8
    created = {name for name in fake.properties["deals"] if name.startswith("cf_")}
    assert created == {
        "cf_days_to_close",
        "cf_amount_home",
        "cf_weighted_amount",
        "cf_is_won_stage",
        "cf_size_band",
    }
    # HubSpot rewrote the stored formulas, which is not drift:
    stored = fake.properties["deals"]["cf_size_band"]["calculationFormula"]
    assert "\nelseif" in stored
    writes = len(fake.writes)
    second = run(hubspot, "push", "--yes", cwd=project)
    assert second.returncode == 0
    assert "nothing to do" in second.stdout
    assert len(fake.writes) == writes
    assert run(hubspot, "plan", cwd=project).returncode == 0  # no changes


def test_push_needs_yes_without_a_terminal(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    result = run(hubspot, "push", cwd=project)
    assert result.returncode == 1 and "--yes" in result.stderr
    assert fake.writes == []


def test_update_shows_a_field_diff_and_patches_only_changes(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    assert run(hubspot, "push", "--yes", cwd=project).returncode == 0
    manifest = project / "calcformula.yaml"
    manifest.write_text(
        manifest.read_text().replace("label: Days to close", "label: Days until close")
    )
    plan = run(hubspot, "plan", cwd=project)
    assert plan.returncode == 3
    assert "~ deals/cf_days_to_close: update" in plan.stdout
    assert "label: 'Days to close' -> 'Days until close'" in plan.stdout
    before = len(fake.writes)
    assert run(hubspot, "push", "--yes", cwd=project).returncode == 0
    assert fake.writes[before:] == [("PATCH", "/crm/properties/2026-09/deals/cf_days_to_close")]


def test_groups_first_then_dependency_order(hubspot: Hub, tmp_path: Path) -> None:
    fake, _ = hubspot
    (tmp_path / "calcformula.yaml").write_text(
        "groups:\n  - {object: deals, name: calculations, label: Calculations}\n"
        "properties:\n"
        "  - {object: deals, name: derived, label: D, type: number, group: calculations,"
        " formula: 'base * 2'}\n"
        "  - {object: deals, name: base, label: B, type: number, group: calculations,"
        " formula: 'coalesce(amount, 0)'}\n"
    )
    result = run(hubspot, "push", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    writes = [w for w in fake.writes]
    assert writes[0] == ("POST", "/crm/properties/2026-09/deals/groups")
    posts = [path for method, path in writes if method == "POST"]
    assert posts == [
        "/crm/properties/2026-09/deals/groups",
        "/crm/properties/2026-09/deals",
        "/crm/properties/2026-09/deals",
    ]
    assert list(fake.properties["deals"])[-2:] == ["base", "derived"]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("other-type", "exists as type string"),
        ("hubspot", "HubSpot-defined property"),
        ("archived", "archived property has this name"),
    ],
)
def test_conflicts_block_the_push(hubspot: Hub, project: Path, setup: str, reason: str) -> None:
    fake, _ = hubspot
    entry = {
        "name": "cf_days_to_close",
        "label": "X",
        "type": "number",
        "fieldType": "calculation_equation",
        "groupName": "dealinformation",
        "calculationFormula": "1",
    }
    if setup == "other-type":
        entry.update(type="string", fieldType="text")
        fake.properties["deals"]["cf_days_to_close"] = fake._stored(entry)
    elif setup == "hubspot":
        fake.properties["deals"]["cf_days_to_close"] = fake._stored(entry, hubspot=True)
    else:
        fake.archived["deals"]["cf_days_to_close"] = fake._stored(entry)
    plan = run(hubspot, "plan", cwd=project)
    assert plan.returncode == 1 and reason in plan.stdout
    push = run(hubspot, "push", "--yes", cwd=project)
    assert push.returncode == 1 and "nothing was sent" in push.stderr
    assert fake.writes == []


def test_invalid_formula_against_the_live_schema_sends_nothing(
    hubspot: Hub, tmp_path: Path
) -> None:
    fake, _ = hubspot
    (tmp_path / "calcformula.yaml").write_text(
        "properties:\n  - {object: deals, name: x, label: X, type: number,"
        " group: dealinformation, formula: 'amout * 2'}\n"
    )
    result = run(hubspot, "push", "--yes", cwd=tmp_path)
    assert result.returncode == 1 and "did you mean `amount`" in result.stderr
    assert fake.writes == []


def test_sandbox_guard(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    manifest = project / "calcformula.yaml"
    manifest.write_text('portal_id: "999"\n' + manifest.read_text())
    result = run(hubspot, "push", "--yes", cwd=project)
    assert result.returncode == 1
    assert "for portal 999, but the token belongs to portal 12345678" in result.stderr
    assert fake.writes == []
    manifest.write_text(manifest.read_text().replace('"999"', '"12345678"'))
    assert run(hubspot, "push", "--yes", cwd=project).returncode == 0


def test_prune_needs_the_flag_and_confirmation(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    fake.properties["deals"]["old_calc"] = fake._stored(
        {
            "name": "old_calc",
            "label": "Old",
            "type": "number",
            "fieldType": "calculation_equation",
            "groupName": "dealinformation",
            "calculationFormula": "1",
        }
    )
    assert run(hubspot, "push", "--yes", cwd=project).returncode == 0
    assert "old_calc" in fake.properties["deals"]  # never archived without --prune
    refused = run(hubspot, "push", "--prune", cwd=project)
    assert refused.returncode == 1 and "old_calc" in fake.properties["deals"]
    assert "- deals/old_calc: archive" in refused.stdout
    pruned = run(hubspot, "push", "--prune", "--yes", cwd=project)
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert "old_calc" not in fake.properties["deals"] and "old_calc" in fake.archived["deals"]


def test_create_that_succeeds_but_never_answers_is_not_duplicated(
    hubspot: Hub, project: Path
) -> None:
    fake, _ = hubspot
    fake.fail("POST", "/crm/properties/2026-09/deals", "commit-then-drop")
    result = run(hubspot, "push", "--yes", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "confirmed by reading it back" in result.stdout
    creates = [w for w in fake.writes if w == ("POST", "/crm/properties/2026-09/deals")]
    assert len(creates) == 5  # one per deal property, none repeated


def test_rate_limit_and_server_errors_are_retried(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    fake.fail("GET", "/crm/properties/2026-09/deals", "429", times=2, seconds=0)
    fake.fail("GET", "/crm/properties/2026-09/contacts", "500", times=2)
    fake.fail("PATCH", "/crm/properties/2026-09/deals", "500")
    result = run(hubspot, "push", "--yes", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_daily_limit_stops_with_a_clear_message(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    fake.fail("GET", "/crm/properties/2026-09/deals", "daily")
    result = run(hubspot, "push", "--yes", cwd=project)
    assert result.returncode == 1
    assert "daily API limit" in result.stderr and "Nothing more was sent" in result.stderr
    assert fake.writes == []


def test_missing_scope_is_named(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    fake.forbidden_objects.add("contacts")
    result = run(hubspot, "plan", cwd=project)
    assert result.returncode == 1
    assert "403" in result.stderr and "crm.schemas.contacts.write" in result.stderr


def test_wrong_token_is_401_and_never_echoed(hubspot: Hub, project: Path) -> None:
    result = run(hubspot, "plan", cwd=project, token="pat-na1-WRONG-TOKEN-abcdef")
    assert result.returncode == 1
    assert "401" in result.stderr and "HUBSPOT_ACCESS_TOKEN" in result.stderr


def test_no_token_is_a_usage_error(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUBSPOT_ACCESS_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "calcformula", "plan"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "HUBSPOT_ACCESS_TOKEN" in result.stderr


def test_hubspot_formula_rejection_is_shown_verbatim(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    fake.rejected_formula_words.add("pipeline_probability")
    result = run(hubspot, "push", "--yes", cwd=project)
    assert result.returncode == 1
    assert "Unable to parse calculation formula" in result.stdout
    assert "round_down, is_present, ( expected" in result.stdout
    assert "correlation id" in result.stdout


def test_date_api_version(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    result = run(hubspot, "push", "--yes", "--api-version", "2026-03", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(
        path.startswith(("/crm/properties/2026-03/", "/account-info/")) for _, path in fake.log
    )


def test_pull_adopts_an_existing_portal(hubspot: Hub, project: Path, tmp_path: Path) -> None:
    assert run(hubspot, "push", "--yes", cwd=project).returncode == 0
    adopted = tmp_path / "adopted"
    result = run(hubspot, "pull", "deals", "contacts", "--output", str(adopted))
    assert result.returncode == 0 and "8 calculation properties" in result.stdout
    assert (
        (adopted / "formulas" / "deals" / "cf_size_band.calc")
        .read_text()
        .startswith("if not is_present(amount) then\n")
    )
    check = subprocess.run(
        [sys.executable, "-m", "calcformula", "check", str(adopted)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout
    assert run(hubspot, "plan", cwd=adopted).returncode == 0  # adopted: no changes


def test_schema_pull(hubspot: Hub, tmp_path: Path) -> None:
    result = run(hubspot, "schema", "pull", "deals", "--output", str(tmp_path / "schema"))
    assert result.returncode == 0
    data = json.loads((tmp_path / "schema" / "deals.json").read_text())
    assert {p["name"] for p in data["results"]} >= {"amount", "closedate"}


# --- the client on its own ------------------------------------------------------------------


def test_client_never_resends_an_ambiguous_create(hubspot: Hub) -> None:
    fake, url = hubspot
    fake.fail("POST", "/crm/properties/2026-09/deals", "commit-then-drop")
    with HubSpotClient(token=fake.token, base_url=url, backoff=0.01) as client:
        with pytest.raises(AmbiguousWrite):
            client.create_property(
                "deals",
                {
                    "name": "x",
                    "label": "X",
                    "type": "number",
                    "fieldType": "number",
                    "groupName": "dealinformation",
                },
            )
        assert "Bearer" not in repr(client) and fake.token not in repr(client)
    assert [w for w in fake.writes if w[0] == "POST"] == [("POST", "/crm/properties/2026-09/deals")]
    assert "x" in fake.properties["deals"]


def test_client_retries_slow_and_dropped_reads(hubspot: Hub) -> None:
    fake, url = hubspot
    fake.fail("GET", "/crm/properties/2026-09/deals", "slow", seconds=1.5)
    fake.fail("GET", "/crm/properties/2026-09/deals", "drop")
    with HubSpotClient(token=fake.token, base_url=url, timeout=1.0, backoff=0.01) as client:
        assert client.list_properties("deals")


def test_client_daily_limit(hubspot: Hub) -> None:
    fake, url = hubspot
    fake.fail("GET", "/crm/properties/2026-09/deals", "daily")
    with (
        HubSpotClient(token=fake.token, base_url=url, backoff=0.01) as client,
        pytest.raises(DailyLimitError),
    ):
        client.list_properties("deals")


# --- issue 12/13/14: a misbehaving portal, HubSpot's stored form, the commands ----------------

PORTAL_COMMANDS = [["plan"], ["push"], ["pull"], ["schema", "pull"], ["verify"]]


@pytest.mark.parametrize("command", PORTAL_COMMANDS, ids=" ".join)
def test_help_of_every_portal_command_names_the_environment(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "calcformula", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "HUBSPOT_ACCESS_TOKEN" in text and "HUBSPOT_API_BASE_URL" in text
    assert "HUBSPOT_API_VERSION" in text and "CALCFORMULA_HTTP_DEADLINE" in text
    # The command's own text is wrapped as one paragraph: no run of spaces left by its source.
    description = result.stdout.split("Options:")[0]
    assert not [line for line in description.splitlines() if "   " in line.strip()]


def test_v3_paths_stay_selectable(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    result = run(hubspot, "push", "--yes", cwd=project, env={"HUBSPOT_API_VERSION": "v3"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake.log and all(
        path.startswith(("/crm/v3/properties/", "/account-info/v3/")) for _, path in fake.log
    )


def test_an_unknown_api_version_is_a_usage_error(hubspot: Hub, project: Path) -> None:
    result = run(hubspot, "plan", "--api-version", "2026-13", cwd=project)
    assert result.returncode == 2 and "2026-09" in result.stderr


def test_a_refused_connection_names_the_host_after_announced_retries(project: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = run((FakeHubSpot(), f"http://127.0.0.1:{port}"), "plan", cwd=project)
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    assert result.stderr.count("retrying in") == 3
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in result.stderr


def test_a_plain_http_base_url_is_refused(project: Path) -> None:
    result = run((FakeHubSpot(), "http://api.hubapi.com"), "plan", cwd=project)
    assert result.returncode == 2 and "not https" in result.stderr


def test_a_token_with_inner_whitespace_is_refused_without_showing_it(
    hubspot: Hub, project: Path
) -> None:
    fake, _ = hubspot
    result = run(hubspot, "plan", cwd=project, token="pat-na1-SECRET PART-123")
    assert result.returncode == 2
    assert "HUBSPOT_ACCESS_TOKEN contains a space" in result.stderr
    assert "SECRET" not in result.stderr and "PART-123" not in result.stderr
    assert fake.log == []


def test_a_token_with_a_trailing_newline_works(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    result = run(hubspot, "plan", cwd=project, token=fake.token + "\n")
    assert result.returncode == 3, result.stderr


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Bad gateway</html>",
        b'{"results": [{"name": "cf_days',
        b"{}",
        b'{"results": [{"name": "cf_size_band", "type": 7}]}',
    ],
)
def test_a_malformed_portal_reading_plans_nothing_and_pulls_nothing(
    hubspot: Hub, project: Path, tmp_path: Path, body: bytes
) -> None:
    fake, _ = hubspot
    answer = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        "\r\nConnection: close\r\n\r\n"
    ).encode() + body
    fake.fail("GET", "/crm/properties/2026-09/deals", "raw", raw=answer)
    plan = run(hubspot, "plan", cwd=project)
    assert plan.returncode == 1
    assert "GET /crm/properties/2026-09/deals" in plan.stderr
    assert "create" not in plan.stdout
    fake.fail("GET", "/crm/properties/2026-09/deals", "raw", raw=answer, times=2)
    push = run(hubspot, "push", "--yes", cwd=project)
    assert push.returncode == 1 and fake.writes == []
    out = tmp_path / "pulled"
    out.mkdir()
    (out / "calcformula.yaml").write_text("kept\n")
    fake.fail("GET", "/crm/properties/2026-09/deals", "raw", raw=answer)
    pulled = run(hubspot, "pull", "contacts", "deals", "--output", str(out))
    assert pulled.returncode == 1 and "GET /crm/properties/2026-09/deals" in pulled.stderr
    assert (out / "calcformula.yaml").read_text() == "kept\n"
    assert sorted(p.name for p in out.iterdir()) == ["calcformula.yaml"]


def test_a_trickling_portal_cannot_hold_a_command(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    fake.fail("GET", "/crm/properties/2026-09/deals", "trickle", seconds=0.3)
    started = time.monotonic()
    result = run(hubspot, "plan", cwd=project, env={"CALCFORMULA_HTTP_DEADLINE": "1.5"})
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert "did not finish answering within 1.5 s" in result.stderr


def test_retries_are_announced_and_their_total_reported(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    fake.fail("GET", "/crm/properties/2026-09/deals", "429", times=2, retry_after="0.2")
    result = run(hubspot, "plan", cwd=project)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("rate limited (429); retrying in 0.2 s") == 2
    assert "2 retries, 0.4 s spent waiting" in result.stderr


def test_a_create_that_loses_a_race_is_reconciled_by_reading_and_patching(
    hubspot: Hub, project: Path
) -> None:
    fake, _ = hubspot
    fake.fail("POST", "/crm/properties/2026-09/deals", "conflict")
    result = run(hubspot, "push", "--yes", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exists already (409); reconciling" in result.stdout
    assert "updated (it appeared meanwhile)" in result.stdout
    [(conflicted, _)] = [
        (n, p) for n, p in fake.properties["deals"].items() if n.startswith("cf_")
    ][:1]
    patches = [p for m, p in fake.writes if m == "PATCH"]
    assert patches == [f"/crm/properties/2026-09/deals/{conflicted}"]
    assert "(theirs)" not in fake.properties["deals"][conflicted]["label"]
    assert run(hubspot, "plan", cwd=project).returncode == 0


GROUP_MANIFEST = (
    "groups:\n  - {object: deals, name: calculations, label: Calculations}\n"
    "properties:\n"
    "  - {object: deals, name: base, label: B, type: number, group: calculations,"
    " formula: 'coalesce(amount, 0)'}\n"
)


@pytest.mark.parametrize(("kind", "posts"), [("commit-then-drop", 1), ("drop", 2)])
def test_an_ambiguous_group_create_is_read_back_before_anything_is_resent(
    hubspot: Hub, tmp_path: Path, kind: str, posts: int
) -> None:
    fake, _ = hubspot
    (tmp_path / "calcformula.yaml").write_text(GROUP_MANIFEST)
    fake.fail("POST", "/crm/properties/2026-09/deals/groups", kind)
    result = run(hubspot, "push", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reading it back" in result.stdout
    group_calls = [(m, p) for m, p in fake.log if p == "/crm/properties/2026-09/deals/groups"]
    # Plan's read, the POST, then a read, and only if the group is missing, one more POST.
    expected = ["GET", "POST", "GET"] + ["POST"] * (posts - 1)
    assert [m for m, _ in group_calls] == expected
    assert "calculations" in fake.groups["deals"]


def test_a_create_answering_404_names_the_unknown_property(hubspot: Hub, tmp_path: Path) -> None:
    fake, _ = hubspot
    fake.rejected_formula_words.add("amount")  # `base` is refused, so `derived` names a ghost
    (tmp_path / "calcformula.yaml").write_text(
        "properties:\n"
        "  - {object: deals, name: base, label: B, type: number, group: dealinformation,"
        " formula: 'coalesce(amount, 0)'}\n"
        "  - {object: deals, name: derived, label: D, type: number, group: dealinformation,"
        " formula: 'base * 2'}\n"
    )
    result = run(hubspot, "push", "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "! deals/derived: HubSpot answered 404: the formula names a property that deals does "
        "not have: `base`; create it first or fix the name" in result.stdout
    )


C1_MANIFEST = """\
properties:
  - {object: deals, name: c1_text, label: T, type: string, group: dealinformation,
     formula: "if amount>=10000 then \\"big \\" + string(dealname) else 'small'"}
  - {object: deals, name: c1_numbers, label: N, type: number, group: dealinformation,
     formula: "if string(dealstage) != 'won' then 10amount+2.50 elseif amount=1 then 1 else 0"}
"""


def test_a_push_stores_hubspots_rewrite_and_a_plan_then_shows_no_change(
    hubspot: Hub, tmp_path: Path
) -> None:
    fake, _ = hubspot
    (tmp_path / "calcformula.yaml").write_text(C1_MANIFEST)
    assert run(hubspot, "push", "--yes", cwd=tmp_path).returncode == 0
    for name, sent in (
        ("c1_text", "if amount>=10000 then \"big \" + string(dealname) else 'small'"),
        (
            "c1_numbers",
            "if string(dealstage) != 'won' then 10amount+2.50 elseif amount=1 then 1 else 0",
        ),
    ):
        stored = fake.properties["deals"][name]["calculationFormula"]
        assert stored == calcformula.format(sent, style="hubspot")
        assert stored != sent  # HubSpot's rewrite, stored
    assert run(hubspot, "plan", cwd=tmp_path).returncode == 0
    # The server itself stores HubSpot's form of whatever it is sent.
    _, url = hubspot
    raw = "if amount>1 then 10amount+2.50 else 0"
    with HubSpotClient(token=fake.token, base_url=url) as api:
        created = api.create_property(
            "deals",
            {
                "name": "c1_raw",
                "label": "R",
                "type": "number",
                "fieldType": "calculation_equation",
                "groupName": "dealinformation",
                "calculationFormula": raw,
            },
        )
    assert created["calculationFormula"] == calcformula.format(raw, style="hubspot") != raw
    # Drift compares trees: the portal's text in another layout is still no change.
    fake.properties["deals"]["c1_numbers"]["calculationFormula"] = (
        "if string(dealstage) != 'won'   then (10 * amount) + 2.5\n"
        "elseif amount equals 1 then 1 else 0"
    )
    assert run(hubspot, "plan", cwd=tmp_path).returncode == 0
    fake.properties["deals"]["c1_numbers"]["calculationFormula"] = "10 * (amount + 2.5)"
    assert run(hubspot, "plan", cwd=tmp_path).returncode == 3
