"""Is the child's postcode in BCP, and if not, whose? From ONS data by postcode district and
sector (`data/README.md`): the BH area (BCP and its neighbours) and the neighbouring DT, SP and
SO areas (never BCP).

`postcode_check` becomes `bcp`, `other` or `unknown`. `other` comes with `authority` when the
data names the one council (children's services) that holds every address of the sector or
district: it prefills the redirect for a person to confirm. A DT, SP or SO postcode the data
cannot place (a sector split between councils, a district not in the data) and any other
area's postcode is `other` with no `authority`: a person names the council. A BH postcode the
data cannot place (a split sector), or a missing or malformed postcode, is `unknown`: a person
checks the address, never an automatic redirect.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.registry import HandlerContext, handler

DATA = Path(__file__).parent / "data" / "bcp_postcode_sectors.csv"
NEIGHBOURS = Path(__file__).parent / "data" / "neighbour_postcode_sectors.csv"
BCP = "BCP Council"
NEIGHBOUR_AREAS = ("DT", "SP", "SO")

# A UK postcode: outward code (area letters, district digits, optional letter), a space,
# inward code (a digit and two letters). Spaces are optional on input.
POSTCODE = re.compile(r"^([A-Z]{1,2})(\d[A-Z\d]?) ?(\d)([A-Z]{2})$")


@dataclass(frozen=True)
class Area:
    authority: str
    whole: bool


def _read(path: Path) -> dict[str, Area]:
    with path.open(newline="", encoding="utf-8") as file:
        return {row["district_or_sector"]: Area(row["local_authority"],
                                                row["note"].startswith("whole"))
                for row in csv.DictReader(file)}


@lru_cache(maxsize=1)
def areas() -> dict[str, Area]:
    return _read(DATA)


@lru_cache(maxsize=1)
def neighbour_areas() -> dict[str, Area]:
    return _read(NEIGHBOURS)


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
    outward = f"{area}{district}"
    if area in NEIGHBOUR_AREAS:
        found = neighbour_areas().get(f"{outward} {sector_digit}") or \
            neighbour_areas().get(outward)
        if found is not None and found.whole:
            return Placement("other", found.authority,
                             f"{outward} {sector_digit} is in {found.authority}")
        why = "has addresses in more than one council" if found is not None else \
            "is not in the postcode data"
        return Placement("other", None,
                         f"{outward} {sector_digit} is outside BCP but {why}: name the council")
    if area != "BH":
        return Placement("other", None, f"{area} postcodes are outside BCP: name the council")
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
        task.data["authority"] = placed.authority  # prefills the redirect; None: a person names it
