"""`calcformula verify` against the local HubSpot-like server over real HTTP: the read-only mode
makes no writes and pages; the import mode refuses production, pushes, imports, reports failed
rows with their numbers, waits for a late backfill, reads back in batches of 100, archives;
planted mismatches are reported with what they implicate; the token never appears."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.hubspot_fake import FakeHubSpot
from tests.test_hubspot_push import EXAMPLES, Hub, hubspot_defined, run

MANIFEST = """\
schema: schema/
properties:
  - object: deals
    name: cf_days_to_close
    label: Days to close
    type: number
    group: dealinformation
    formula: max(0, round_down((closedate - createdate) / 86400000, 0))
  - object: deals
    name: cf_size_band
    label: Size band
    type: string
    group: dealinformation
    formula: if amount >= 10000 then 'large' else 'small'
"""
DAY = 86_400_000


def epoch(day: str) -> str:
    moment = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    return str(int(moment.timestamp() * 1000))


def hubspot_math(obj: str, name: str, values: dict[str, Any]) -> str | None:
    """HubSpot's answers, written independently of calcformula; one planted difference."""
    if name == "cf_days_to_close":
        if not values.get("closedate") or not values.get("createdate"):
            return None
        days = (Decimal(values["closedate"]) - Decimal(values["createdate"])) / DAY
        return str(max(Decimal(0), days.quantize(Decimal(1), rounding=ROUND_FLOOR)))
    if name == "cf_size_band":
        if values.get("amount") in (None, ""):
            return None
        if values["amount"] == "12345":
            return "small"  # the planted mismatch: HubSpot says small where we say large
        return "large" if Decimal(values["amount"]) >= 10000 else "small"
    return None


@pytest.fixture
def hubspot() -> Iterator[Hub]:
    fake = FakeHubSpot()
    fake.add_object("deals", ["dealinformation"], hubspot_defined("deals"))
    fake.calculate = hubspot_math
    server = fake.serve()
    url = next(server)
    yield fake, url
    next(server, None)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copytree(EXAMPLES / "schema", folder / "schema")
    (folder / "calcformula.yaml").write_text(MANIFEST, encoding="utf-8")
    return folder


def pushed(hubspot: Hub, project: Path) -> None:
    result = run(hubspot, "push", "--yes", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_from_portal_agrees_reads_only_and_pages(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    pushed(hubspot, project)
    for number in range(250):
        fake.add_record(
            "deals",
            {
                "createdate": epoch("2026-01-01"),
                "closedate": epoch("2026-01-01")
                if number % 5 == 0
                else str(int(epoch("2026-01-01")) + number * DAY // 3),
                "amount": str(number * 100),
            },
        )
    writes_before = len(fake.writes)
    result = run(hubspot, "verify", "--from-portal", "--format", "json", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["agrees"] is True
    counts = {p["property"]: (p["compared"], p["agreeing"]) for p in report["properties"]}
    assert counts == {"cf_days_to_close": (250, 250), "cf_size_band": (250, 250)}
    assert len(fake.writes) == writes_before  # read-only: GET requests only
    assert fake.page_sizes and max(fake.page_sizes) <= 100
    limited = run(
        hubspot, "verify", "--from-portal", "--limit", "30", "--format", "json", cwd=project
    )
    assert json.loads(limited.stdout)["properties"][0]["compared"] == 30


def test_from_portal_reports_a_mismatch_with_what_it_implicates(
    hubspot: Hub, project: Path
) -> None:
    fake, _ = hubspot
    pushed(hubspot, project)
    fake.add_record("deals", {"createdate": epoch("2026-01-01"), "amount": "500"})
    planted = fake.add_record("deals", {"createdate": epoch("2026-01-01"), "amount": "12345"})
    fake.fail("GET", "/crm/objects/2026-09/deals", "429", times=1, seconds=0)  # retried, not fatal
    result = run(hubspot, "verify", "--from-portal", "--object", "deals", cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cf_size_band: 2 compared, 1 agree, 1 mismatch(es)" in result.stdout
    assert f"record {planted}: calcformula 'large', HubSpot 'small'" in result.stdout
    assert "amount='12345'" in result.stdout
    assert "implicates: E1 (reading values)" in result.stdout
    assert "calcformula and HubSpot disagree" in result.stdout
    # In JSON, each mismatch comes as a conformance case ready to file (docs/verify.md).
    data = run(hubspot, "verify", "--from-portal", "--format", "json", cwd=project)
    [band] = [p for p in json.loads(data.stdout)["properties"] if p["property"] == "cf_size_band"]
    case = band["mismatches"][0]["case"]
    assert case.startswith("=== HubSpot: E1 (reading values) (deals record")
    assert case.endswith('--- record\n{"amount": "12345"}\n--- value\n\'small\'')


def test_from_portal_skips_what_is_not_in_the_portal(hubspot: Hub, project: Path) -> None:
    result = run(hubspot, "verify", "--from-portal", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "skipped: not a calculation property in the portal (push it first)" in result.stdout


def _records(tmp_path: Path) -> Path:
    path = tmp_path / "sample.csv"
    lines = ["Record ID,Create Date,Close Date,Amount"]
    start = int(epoch("2026-02-01"))
    for number in range(1, 131):
        lines.append(f"{number},{start},{start + number * DAY},{number * 200}")
    lines.append(f"131,{epoch('2026-02-01')},,not a number")  # HubSpot rejects this row
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_records_import_waits_for_backfill_compares_and_archives(
    hubspot: Hub, project: Path, tmp_path: Path
) -> None:
    fake, _ = hubspot
    fake.backfill_reads = 2  # values appear on the second read-back, as HubSpot's backfill
    records = _records(tmp_path)
    result = run(
        hubspot, "verify", "--records", str(records), "--poll", "0.01", "--timeout", "5",
        "--format", "json", cwd=project,
    )  # fmt: skip
    report = json.loads(result.stdout)
    # The rejected row is reported with its line number, and fails the run.
    assert report["import_errors"] == [
        "row 132: INVALID_NUMBER: not a number is not a valid number for amount"
        " (value 'not a number')"
    ]
    assert result.returncode == 1
    days = next(p for p in report["properties"] if p["property"] == "cf_days_to_close")
    assert (days["compared"], days["agreeing"], days["mismatching"]) == (130, 130, 0)
    assert "waiting for HubSpot to calculate" in result.stderr
    # Properties were pushed, a unique key property created, read back in batches of 100.
    assert "cf_days_to_close" in fake.properties["deals"]
    assert "calcformula_verify_key" in fake.properties["deals"]
    assert fake.batch_sizes and max(fake.batch_sizes) <= 100
    # Everything imported is archived afterwards.
    assert report["archived"] == 130
    assert fake.live_records("deals") == []


def test_records_keep_leaves_them_and_late_values_are_reported(
    hubspot: Hub, project: Path, tmp_path: Path
) -> None:
    fake, _ = hubspot
    fake.backfill_reads = 10**6  # HubSpot never calculates within the timeout
    records = tmp_path / "one.csv"
    records.write_text(
        f"Create Date,Close Date,Amount\n{epoch('2026-02-01')},{epoch('2026-02-03')},5\n"
    )
    result = run(
        hubspot, "verify", "--records", str(records), "--poll", "0.01", "--timeout", "0.05",
        "--keep", cwd=project,
    )  # fmt: skip
    assert result.returncode == 1
    assert "HubSpot value(s) were still blank when waiting ended" in result.stdout
    assert len(fake.live_records("deals")) == 1


def test_records_refuse_a_production_account(hubspot: Hub, project: Path, tmp_path: Path) -> None:
    fake, _ = hubspot
    fake.account_type = "STANDARD"
    result = run(hubspot, "verify", "--records", str(_records(tmp_path)), cwd=project)
    assert result.returncode == 1
    assert "runs only on sandbox and developer test accounts" in result.stderr
    assert fake.writes == []
    loud = run(
        hubspot, "verify", "--records", str(_records(tmp_path)), "--allow-production",
        "--poll", "0.01", "--timeout", "2", cwd=project,
    )  # fmt: skip
    assert "WARNING: --allow-production" in loud.stderr


def test_usage_errors() -> None:
    from tests.test_cli import run as run_cli

    assert run_cli("verify").returncode == 2
    assert run_cli("verify", "--from-portal", "--records", "x.csv").returncode == 2


def test_a_mismatch_shows_calcformulas_trace_of_the_record(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    pushed(hubspot, project)
    fake.add_record("deals", {"createdate": epoch("2026-01-01"), "amount": "12345"})
    result = run(hubspot, "verify", "--from-portal", "--object", "deals", cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "    calcformula's steps on this record:\n"
        "      if amount >= 10000 then 'large' else 'small'  'large'\n"
        "        amount >= 10000                             true\n"
        "          amount                                    12345\n"
    ) in result.stdout
    assert "      the result is 'large' because `amount >= 10000` is true\n" in result.stdout
    data = run(hubspot, "verify", "--from-portal", "--format", "json", cwd=project)
    [band] = [p for p in json.loads(data.stdout)["properties"] if p["property"] == "cf_size_band"]
    steps = band["mismatches"][0]["trace"]
    assert steps["value"] == "large" and steps["blank_causes"] == []
    assert [c["evaluated"] for c in steps["trace"]["children"]] == [True, True, False]


def test_from_portal_refuses_a_portal_id_mismatch(hubspot: Hub, project: Path) -> None:
    fake, _ = hubspot
    pushed(hubspot, project)
    manifest = project / "calcformula.yaml"
    manifest.write_text('portal_id: "999"\n' + manifest.read_text())
    reads_before = len(fake.log)
    result = run(hubspot, "verify", "--from-portal", cwd=project)
    assert result.returncode == 1
    assert "for portal 999, but the token belongs to portal 12345678" in result.stderr
    # Only the account was read: no records, no properties.
    assert [p for _, p in fake.log[reads_before:]] == ["/account-info/2026-09/details"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--poll", "0"),
        ("--poll", "-1"),
        ("--poll", "nan"),
        ("--poll", "inf"),
        ("--timeout", "0"),
        ("--timeout", "-5"),
        ("--timeout", "nan"),
        ("--timeout", "1e300"),
    ],
)
def test_records_check_poll_and_timeout_before_anything_is_sent(
    hubspot: Hub, project: Path, tmp_path: Path, option: str, value: str
) -> None:
    fake, _ = hubspot
    result = run(
        hubspot, "verify", "--records", str(_records(tmp_path)), option, value, cwd=project
    )
    assert result.returncode == 2, result.stderr
    assert option in result.stderr and "above 0" in result.stderr
    assert fake.log == []


def test_records_are_archived_when_the_run_fails_after_the_import(
    hubspot: Hub, project: Path, tmp_path: Path
) -> None:
    fake, _ = hubspot
    # The first read-back after the import fails (not retryable); the records exist by then.
    fake.fail("POST", "/crm/objects/2026-09/deals/batch/read", "400")
    result = run(
        hubspot, "verify", "--records", str(_records(tmp_path)), "--poll", "0.01",
        "--timeout", "5", cwd=project,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Scripted failure" in result.stderr
    assert ("POST", "/crm/objects/2026-09/deals/batch/archive") in fake.writes
    assert "archived 130 imported record(s)" in result.stderr
    assert fake.live_records("deals") == []


def test_a_failed_import_shows_hubspots_reason_and_still_cleans_up(
    hubspot: Hub, project: Path, tmp_path: Path
) -> None:
    fake, _ = hubspot
    fake.fail_import = "The file could not be processed: too many columns"
    result = run(
        hubspot, "verify", "--records", str(_records(tmp_path)), "--poll", "0.01",
        "--timeout", "5", cwd=project,
    )  # fmt: skip
    assert result.returncode == 1
    assert "ended FAILED" in result.stderr
    assert "the file: FAILED_IMPORT: The file could not be processed: too many columns" in (
        result.stderr
    )
    assert "row 132: INVALID_NUMBER: not a number is not a valid number for amount" in (
        result.stderr
    )
    assert fake.live_records("deals") == []


def test_records_from_an_upload_whose_answer_is_lost_are_archived(
    hubspot: Hub, project: Path, tmp_path: Path
) -> None:
    fake, _ = hubspot
    fake.fail("POST", "/crm/imports/2026-09", "commit-then-drop")
    result = run(hubspot, "verify", "--records", str(_records(tmp_path)), cwd=project)
    assert result.returncode == 1
    assert "the outcome is unknown" in result.stderr
    assert "archived 130 imported record(s)" in result.stderr
    assert fake.live_records("deals") == []
