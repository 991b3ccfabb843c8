"""Is the child's postcode in BCP? From ONS data by postcode sector (`data/README.md`).

`postcode_check` becomes `bcp`, `other` (with `authority` when the data names it) or
`unknown`: a split sector, a missing or malformed postcode goes to a person to check, never
to an automatic redirect.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.registry import HandlerContext, handler

DATA = Path(__file__).parent / "data" / "bcp_postcode_sectors.csv"
BCP = "BCP Council"

# A UK postcode: outward code (area letters, district digits, optional letter), a space,
# inward code (a digit and two letters). Spaces are optional on input.
POSTCODE = re.compile(r"^([A-Z]{1,2})(\d[A-Z\d]?) ?(\d)([A-Z]{2})$")


@dataclass(frozen=True)
class Area:
    authority: str
    whole: bool


@lru_cache(maxsize=1)
def areas() -> dict[str, Area]:
    with DATA.open(newline="", encoding="utf-8") as file:
        return {row["district_or_sector"]: Area(row["local_authority"],
                                                row["note"].startswith("whole"))
                for row in csv.DictReader(file)}


@dataclass(frozen=True)
class Placement:
    result: str  # bcp | other | unknown
    authority: str | None
    reason: str


def place(postcode: str | None) -> Placement:
    if not postcode or not postcode.strip():
        return Placement("unknown", None, "no postcode given")
    match = POSTCODE.match(postcode.upper().strip().replace("  ", " "))
    if match is None:
        return Placement("unknown", None, "the postcode is not in a valid UK format")
    area, district, sector_digit, _unit = match.groups()
    if area != "BH":
        return Placement("other", None, f"{area} postcodes are outside BCP")
    outward = f"{area}{district}"
    found = areas().get(f"{outward} {sector_digit}") or areas().get(outward)
    if found is None:
        return Placement("unknown", None, f"{outward} {sector_digit} is not in the postcode data")
    if not found.whole:
        return Placement("unknown", None,
                         f"{outward} {sector_digit} has addresses in more than one council")
    if found.authority == BCP:
        return Placement("bcp", BCP, f"{outward} {sector_digit} is in BCP")
    return Placement("other", found.authority, f"{outward} {sector_digit} is in {found.authority}")


@handler("check_postcode", sets=("postcode_check", "postcode_reason"))
def check_postcode(task: HandlerContext) -> None:
    child = task.data.get("child") or {}
    placed = place(child.get("postcode"))
    task.data["postcode_check"] = placed.result
    task.data["postcode_reason"] = placed.reason
    if placed.result == "other":
        task.data["authority"] = placed.authority
