"""Regenerates the sample records and schemas under examples/ (deterministic)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).parent


def prop(name: str, label: str, kind: str, field: str, group: str, options: list[str] = (),
         hubspot: bool = True) -> dict[str, object]:
    entry: dict[str, object] = {"name": name, "label": label, "type": kind, "fieldType": field,
                                "groupName": group, "hubspotDefined": hubspot}
    if options:
        entry["options"] = [{"label": o.replace("_", " ").title(), "value": o,
                             "displayOrder": i, "hidden": False} for i, o in enumerate(options)]
    return entry


STAGES = ["appointmentscheduled", "contractsent", "closedwon", "closedlost"]
DEALS = [
    prop("dealname", "Deal Name", "string", "text", "dealinformation"),
    prop("amount", "Amount", "number", "number", "dealinformation"),
    prop("closedate", "Close Date", "datetime", "date", "dealinformation"),
    prop("createdate", "Create Date", "datetime", "date", "dealinformation"),
    prop("dealstage", "Deal Stage", "enumeration", "radio", "dealinformation", STAGES),
    prop("hs_exchange_rate", "Exchange rate", "number", "number", "dealinformation"),
    prop("hs_deal_stage_probability", "Deal probability", "number", "number",
         "dealinformation"),
    prop("amount_in_home_currency", "Amount in company currency", "number", "number",
         "dealinformation"),
    prop("hubspot_owner_id", "Deal owner", "enumeration", "select", "dealinformation",
         ["1001", "1002"]),
]
CONTACTS = [
    prop("firstname", "First Name", "string", "text", "contactinformation"),
    prop("lastname", "Last Name", "string", "text", "contactinformation"),
    prop("demographic_score", "Demographic score", "number", "number", "contactinformation",
         hubspot=False),
    prop("behavioral_score", "Behavioral score", "number", "number", "contactinformation",
         hubspot=False),
    prop("hs_calculated_mobile_number", "Calculated Mobile Number in International Format",
         "string", "phonenumber", "contactinformation"),
    prop("hubspot_owner_id", "Contact owner", "enumeration", "select", "contactinformation",
         ["1001", "1002"]),
    prop("hs_time_to_first_engagement", "Time to first engagement", "number", "number",
         "contactinformation"),
]


def main() -> None:
    rng = random.Random(20261122)
    for name, properties in (("deals", DEALS), ("contacts", CONTACTS)):
        (HERE / "schema" / f"{name}.json").write_text(
            json.dumps({"results": properties}, indent=1) + "\n")

    def blank(value: str, chance: float = 0.08) -> str:
        return "" if rng.random() < chance else value

    with (HERE / "records" / "deals.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Record ID", "Deal Name", "Amount", "Close Date", "Create Date",
                         "Deal Stage", "Exchange rate", "Deal probability",
                         "Amount in company currency"])
        for number in range(300):
            created = 1_735_689_600_000 + rng.randint(0, 300) * 86_400_000
            closed = created + rng.randint(-3, 120) * 86_400_000 + rng.randint(0, 86_399_999)
            amount = rng.choice([rng.randint(100, 4999), rng.randint(5000, 49999),
                                 rng.randint(50000, 250000)])
            rate = rng.choice(["1", "1.08", "0.92", ""])
            stage = rng.choice(STAGES)
            probability = {"appointmentscheduled": "0.2", "contractsent": "0.9",
                           "closedwon": "1", "closedlost": "0"}[stage]
            home = str(round(amount * float(rate or 1), 2))
            writer.writerow([str(9_000_000 + number), f"Deal {number}", blank(str(amount)),
                             blank(str(closed), 0.2), str(created), stage, rate,
                             blank(probability), blank(home)])
    with (HERE / "records" / "contacts.ndjson").open("w") as stream:
        for number in range(200):
            properties = {
                "firstname": rng.choice(["Ada", "Grace", "Alan", "Edsger", ""]),
                "lastname": rng.choice(["Lovelace", "Hopper", "Turing", ""]),
                "demographic_score": blank(str(rng.randint(0, 50)), 0.15),
                "behavioral_score": blank(str(rng.randint(0, 50)), 0.15),
                "hs_calculated_mobile_number": blank(rng.choice(
                    ["+4930" + str(rng.randint(100000, 999999)), "030" + str(rng.randint(
                        100000, 999999))]), 0.2),
                "hubspot_owner_id": blank(rng.choice(["1001", "1002"]), 0.3),
                "hs_time_to_first_engagement": blank(str(rng.randint(1, 10**8)), 0.5),
            }
            stream.write(json.dumps({"id": str(5_000_000 + number),
                                     "properties": properties}) + "\n")


if __name__ == "__main__":
    main()
