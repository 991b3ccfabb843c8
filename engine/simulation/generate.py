"""Synthetic scenarios for load and what-if runs (`mash simulate --generate`).

Contacts arrive across the week and the day as a front door sees them (most in Hub hours,
fewer at weekends and at night); channels, RAG ratings, outcomes, postcodes in and outside
BCP, missing children, children already open or recently closed (re-referrals), police
notifications and disagreements are mixed in the proportions below. The same seed gives the
same scenario.

Households and repeat contacts (issue 17), in shares chosen as follows (no statistic counts
contacts by the children they name, so these are judgements, stated for a process owner to
change):

- Children a contact names (SIBLINGS): one 70%, two 20%, three 7%, four 3%. UK families with
  dependent children (ONS, Families and households, 2024): about 44% one child, 40% two, 14%
  three or more; most contacts still name only the child a school, GP or police officer is
  worried about, so fewer name siblings than households have them.
- A contact about a child whose contact is still in progress (REPEAT_IN_PROGRESS, 5%): the
  same incident reported by a second agency (police and school the morning after), within
  two days of the first.
- A contact about a child whose contact ended recently (REPEAT_RECENT, 8%): DfE, Children in
  need: a focus on re-referrals (2024): 22% of referrals are re-referrals within 12 months,
  and 38% of those come within 3 months (2017 series): about 8% within the 3-month window.
- A manager joins a repeat to the contact in progress 80% of the time (JOIN); the rest are
  assessed separately (a new concern).
Siblings share a surname, postcode and (when known to the case records) a family id.
"""

from __future__ import annotations

import bisect
import csv
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..clock import iso_z

LONDON = ZoneInfo("Europe/London")
POSTCODES = Path(__file__).resolve().parents[2] / "handlers" / "data" / "bcp_postcode_sectors.csv"

WEEKDAY_WEIGHT = (1.25, 1.15, 1.05, 1.0, 0.95, 0.3, 0.3)  # Monday first
HOUR_WEIGHT = (0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 1.8, 3.0, 3.2, 3.0, 2.4, 2.8, 3.0, 2.8,
               2.2, 1.2, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
CHANNELS = (("email", 0.35), ("phone", 0.30), ("portal", 0.20), ("ppn", 0.15))
RAG = (("RED", 0.15), ("AMBER", 0.35), ("GREEN", 0.50))
OUTCOMES = {
    "RED": (("s47", 0.6), ("s17", 0.3), ("early_help", 0.1)),
    "AMBER": (("s47", 0.2), ("s17", 0.5), ("early_help", 0.2), ("signpost", 0.1)),
    "GREEN": (("early_help", 0.5), ("signpost", 0.3), ("advice", 0.2)),
}
TEAMS = ("Assessment Team 1", "Assessment Team 2", "Early Help")
AGENCIES = ("School", "GP surgery", "Health visitor", "Dorset Police", "Housing", "Nursery")
FIRST = ("Alex", "Sam", "Jamie", "Charlie", "Riley", "Jordan", "Casey", "Taylor", "Morgan")
LAST = ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Roberts")
WORKERS = ("A. Worker", "B. Walker", "C. Khan", "D. Patel", "E. Murphy", "F. Clarke")
SIBLINGS = ((1, 0.70), (2, 0.20), (3, 0.07), (4, 0.03))  # children a contact names
REPEAT_IN_PROGRESS = 0.05  # about a child whose contact is in progress (within 2 days)
REPEAT_RECENT = 0.08  # about a child whose contact ended within 3 months
JOIN = 0.8  # a repeat joined to the contact in progress, rather than assessed separately


def _pick(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def _sectors() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"bcp": [], "other": [], "split": []}
    with POSTCODES.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            code = row["district_or_sector"]
            if " " not in code:
                continue
            if not row["note"].startswith("whole"):
                found["split"].append(code)
            elif row["local_authority"] == "BCP Council":
                found["bcp"].append(code)
            else:
                found["other"].append(code)
    return found


def _arrival(rng: random.Random, start: date, days: int, day_weights: list[float]) -> datetime:
    day = start + timedelta(rng.choices(range(days), day_weights)[0])
    hour = rng.choices(range(24), HOUR_WEIGHT)[0]
    local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), LONDON)
    return local


def _work_time(rng: random.Random) -> dict[str, str]:
    def hours(low: float, high: float) -> str:
        return f"PT{round(rng.uniform(low, high) * 60)}M"

    return {
        "default": hours(0.1, 1.0),
        "Business Support Information Officer": hours(0.2, 2.0),
        "MASH Team Manager / Early Help Decision Maker": hours(0.2, 3.0),
        "MASH Social Worker": hours(1.0, 7.0),
        "Pod Assistant Team Manager": hours(0.1, 1.5),
        "Early Help Hub": hours(2.0, 20.0),
    }


def generate(n: int, seed: int, start: date, days: int) -> dict[str, Any]:
    if n < 0 or days < 1:
        raise ValueError("give a number of contacts >= 0 and days >= 1")
    rng = random.Random(seed)
    sectors = _sectors()
    day_weights = [WEEKDAY_WEIGHT[(start + timedelta(d)).weekday()] for d in range(days)]
    arrivals = sorted(_arrival(rng, start, days, day_weights) for _ in range(n))
    case_records: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    for i, arrived in enumerate(arrivals):
        contact_id = f"c{i + 1}"
        missing = rng.random() < 0.03
        repeat = rng.random()
        earlier = _earlier(contacts, arrivals, arrived, repeat)
        if earlier is not None:  # the same child again: the same details, the same records
            named = earlier["contact"].get("children") or [earlier["contact"]["child"]]
            children = [dict(rng.choice(named))]
        else:
            children = _household(rng, i, arrived, sectors, case_records, missing)
        child = children[0]
        channel = _pick(rng, CHANNELS)
        public = channel == "phone" and rng.random() < 0.3
        referrer = {"name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "kind": "public" if public else "professional",
                    "agency": "" if public else rng.choice(AGENCIES)}
        if not public or rng.random() < 0.5:
            referrer["email"] = f"referrer{i + 1}@example.invalid"
        rag = _pick(rng, RAG)
        threshold = 4 if rag == "RED" else rng.choice((3, 4)) if rag == "AMBER" else rng.choice((2, 3))
        consent = rng.choices(("given", "refused", "not_sought"), (0.8, 0.1, 0.1))[0]
        overridden = consent != "given" and threshold == 4
        answers: dict[str, Any] = {
            "accepted": rng.random() < 0.85, "nfa_confirmed": rng.random() < 0.9,
            "approved": True, "rag": rag,
            "consent_decision": "overridden" if overridden else "confirmed",
            "threshold_level": threshold, "social_worker": rng.choice(WORKERS),
            "strategy_discussion": rng.random() < (0.7 if rag == "RED" else 0.3),
            "share_with_partners": rng.random() < 0.5,
            "outcome": _pick(rng, OUTCOMES[rag]),
            "in_bcp": rng.random() < 0.7, "authority": "Dorset Council",
        }
        if overridden:
            answers["consent_override_reasons"] = rng.sample(
                ["risk_of_harm", "crime_detection", "unjustified_delay"], rng.randint(1, 2))
        if child.get("postcode", "")[:2] in ("DT", "SO", "SP"):
            answers["authority"] = "Neighbouring council"
            answers["authority_email"] = "front.door@neighbour.invalid"
        answers["join"] = "join" if rng.random() < JOIN else "assess_separately"
        answers["same_child"] = False  # a near match by chance is another child
        contacts.append({
            "id": contact_id, "received_at": iso_z(arrived),
            "contact": {
                "channel": channel, "referrer": referrer,
                **({"child": child} if len(children) == 1 else {"children": children}),
                "concerns": "Synthetic concern for load and what-if runs.",
                "immediate_risk": rng.random() < 0.03, "missing": missing,
                "information_request": rng.random() < 0.05,
                "crime_suspected": rng.random() < 0.06, "consent": consent,
            },
            "answers": answers, "work_time": _work_time(rng),
        })
        if contacts[-1]["contact"]["immediate_risk"] and rag != "RED":
            # a RED at receipt rated lower at the BRAG: the manager records no immediate risk
            answers["immediate_risk"] = False
    disagreements = []
    for j in range(n // 100):
        raised = _arrival(rng, start, days, day_weights)
        received = bisect.bisect_right(arrivals, raised)  # how many contacts by then
        about = contacts[rng.randrange(received)]["id"] if received and rng.random() < 0.7 \
            else None
        stages = []
        for _ in range(rng.choice((1, 2, 3, 3))):
            stages.append({"resolved": rng.random() < 0.45,
                           "after": f"PT{rng.randrange(2, 60)}H"})
            if stages[-1]["resolved"]:
                break
        item: dict[str, Any] = {"id": f"d{j + 1}", "raised_at": iso_z(raised), "stages": stages}
        if about:
            item["about"] = about
        disagreements.append(item)
    begin = datetime.combine(start, time(0), LONDON)
    return {"format": 1, "start": iso_z(begin), "case_records": case_records,
            "contacts": contacts, "disagreements": disagreements}


def _earlier(contacts: list[dict[str, Any]], arrivals: list[datetime], arrived: datetime,
             draw: float) -> dict[str, Any] | None:
    """An earlier contact this one is a repeat of (`draw` below the repeat shares), or None:
    one from the last two days (likely still in progress), or one from 3 to 84 days before
    (likely ended within the re-referral window)."""
    if draw < REPEAT_IN_PROGRESS:
        low, high = arrived - timedelta(days=2), arrived
    elif draw < REPEAT_IN_PROGRESS + REPEAT_RECENT:
        low, high = arrived - timedelta(days=84), arrived - timedelta(days=3)
    else:
        return None
    found = [c for c, at in zip(contacts, arrivals, strict=False) if low <= at < high]
    return found[-1] if found else None


def _household(rng: random.Random, i: int, arrived: datetime, sectors: dict[str, list[str]],
               case_records: list[dict[str, Any]], missing: bool) -> list[dict[str, Any]]:
    """The children a new contact names: one, or siblings sharing a surname and postcode,
    each with a history in the case records or none (siblings known share a family id)."""
    surname = rng.choice(LAST)
    place = rng.random()
    if place < 0.88:
        postcode = f"{rng.choice(sectors['bcp'])}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}" \
                   f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    elif place < 0.93:
        postcode = f"{rng.choice(sectors['other'])}AA"
    elif place < 0.96:
        postcode = f"{rng.choice(sectors['split'])}AB"
    elif place < 0.98:
        postcode = rng.choice(("DT1 1AA", "SO41 9AA", "SP6 1AA"))
    else:
        postcode = rng.choice(("", "unknown"))
    count = int(_pick(rng, tuple((str(k), w) for k, w in SIBLINGS)))
    first_names = rng.sample(FIRST, count)
    ages = sorted(rng.sample(range(1, 17 * 365), count))
    children = []
    for k, (first, age) in enumerate(zip(first_names, ages, strict=True)):
        child: dict[str, Any] = {"name": f"{first} {surname}",
                                 "dob": (arrived.date() - timedelta(days=age)).isoformat(),
                                 "postcode": postcode}
        number = f"C{i + 1:06d}" + (f"-{k + 1}" if count > 1 else "")
        history = rng.random()
        record: dict[str, Any] | None = None
        if history < 0.07 or (missing and k == 0 and rng.random() < 0.5):
            record = {"status": "open", "allocated_worker": rng.choice(WORKERS),
                      "team": rng.choice(TEAMS)}
        elif history < 0.13:
            record = {"status": "closed", "allocated_worker": rng.choice(WORKERS),
                      "closed_on": (arrived.date() - timedelta(days=rng.randrange(5, 88))
                                    ).isoformat(), "team": rng.choice(TEAMS)}
        elif history < 0.17:
            record = {"status": "closed", "closed_on": (arrived.date() - timedelta(
                days=rng.randrange(120, 900))).isoformat(), "team": rng.choice(TEAMS)}
        if record is not None:
            child["id"] = number
            case_records.append({"child_id": number, **record, "name": child["name"],
                                 "dob": child["dob"], "postcode": postcode,
                                 **({"family": f"F{i + 1:06d}"} if count > 1 else {})})
        children.append(child)
    return children


# -- fields the generator does not know ---------------------------------------------------------

# What the runner answers itself (an escalation stage's response), and every answer the
# generator writes (some only for some contacts: override reasons, a neighbour's email).
RUNNER_ANSWERS = frozenset({"resolved", "reasons"})
GENERATED_ANSWERS = frozenset({
    "accepted", "nfa_confirmed", "approved", "rag", "consent_decision", "threshold_level",
    "social_worker", "strategy_discussion", "share_with_partners", "outcome", "in_bcp",
    "authority", "authority_email", "consent_override_reasons", "join", "same_child"})


def known_fields(document: dict[str, Any]) -> set[str]:
    """The fields the generated scenario answers."""
    found = set(RUNNER_ANSWERS | GENERATED_ANSWERS) | set(document.get("defaults") or {})
    for contact in document.get("contacts") or []:
        found.update(contact.get("answers") or {})
    return found


def value_for(field: dict[str, Any], start: date) -> Any:
    """A value of the field's declared type that its form accepts: the first option of a
    choice, no for yes/no, the smallest allowed number, the scenario's first day for a date,
    and a short text otherwise."""
    kind = field.get("type")
    if kind == "enum":
        options = [o["id"] for o in field.get("options") or []]
        first = options[0] if options else ""
        return [first] if field.get("multiple") else first
    if kind == "boolean":
        return False
    if kind == "long":
        low = field.get("min")
        return int(low) if low is not None else min(0, int(field.get("max", 0)))
    if kind == "date":
        return start.isoformat()
    text = "Synthetic answer."
    return text.ljust(int(field.get("minlength") or 0), ".")


def fill_unknown(document: dict[str, Any], processes: Path, start: date) -> list[str]:
    """Give every required field of the diagrams' forms that the generator does not know a
    default (the scenario's `defaults`) from its declared type and options; returns one line
    per field filled, for a warning: `field (task, type) = value`."""
    from .. import diagrams

    found = diagrams.load([processes])
    known = known_fields(document)
    filled: list[str] = []
    defaults = document.setdefault("defaults", {})
    for model in found.models.values():
        for element in model.elements.values():
            for field in element.form:
                name = field["id"]
                if name in known or field.get("readonly"):
                    continue
                if not (field.get("required") or field.get("required_when")):
                    continue
                defaults[name] = value_for(field, start)
                known.add(name)
                filled.append(f"{name} ({element.name or element.id}, {field.get('type')}) = "
                              f"{defaults[name]!r}")
    if not defaults:
        del document["defaults"]
    return filled
