"""Repeat contacts: a contact about a child whose contact is still in progress (issue 17).

The new contact tells the one in progress at once (`tell_open_contact`: a message, by default
`another_contact_received`, to that instance, and a row in `contact_links`). There, a
non-interrupting message event sub-process records what came in on the open work
(`another_contact`: a case note with the new contact's concerns, shown on its tasks and its
case page) and tells the people working it. A manager then decides whether the new contact
joins the one in progress or is assessed on its own (`join_contact` records the decision;
a contact joined ends with the outcome `joined_to_open_contact`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.clock import iso_z
from engine.registry import HandlerContext, HandlerError, handler
from engine.store import contact_links, instances
from handlers import notify
from handlers.matching import reference

MESSAGE = "another_contact_received"


def _open_contact(task: HandlerContext) -> str:
    other = task.data.get("open_contact")
    if not isinstance(other, dict) or not other.get("instance_id"):
        raise HandlerError(f"{task.element_id}: the data names no contact in progress "
                           "(open_contact); run it only when look_up_case_records found one")
    return str(other["instance_id"])


def what_came_in(task: HandlerContext) -> dict[str, Any]:
    """The new contact as the people working the open one are told of it: a public referrer
    is not named, and their name, email and phone are taken out of the concerns (seed 002)."""
    data = task.data
    referrer = data.get("referrer") or {}
    concerns = str(data.get("concerns") or "")
    if referrer.get("kind") == "professional":
        who = ", ".join(v for v in (referrer.get("name"), referrer.get("agency")) if v)
    else:
        who = notify.WITHHELD
        concerns = notify.public_view({"concerns": concerns}, referrer)["concerns"]
    return {
        "instance_id": task.instance_id, "reference": reference(task.instance_id),
        "received_at": data.get("received_at"), "channel": data.get("channel"),
        "referrer": who or "not given", "concerns": concerns,
        **{flag: bool(data.get(flag)) for flag in ("immediate_risk", "crime_suspected",
                                                    "missing")},
    }


@handler("tell_open_contact", sets=("open_contact_told",))
def tell_open_contact(task: HandlerContext) -> None:
    other = _open_contact(task)
    task.services.messages.send(other, task.properties.get("message", MESSAGE),
                                what_came_in(task))
    task.services.writes.execute(contact_links.insert().values(
        instance_id=task.instance_id, other_id=other, kind="in_progress", at=task.now))
    task.data["open_contact_told"] = iso_z(task.now)


@handler("another_contact")
def another_contact(task: HandlerContext) -> None:
    """In the contact in progress: what came in, as a case note on this contact's record."""
    name = task.properties.get("message", MESSAGE)
    came = task.data.get(name)
    if not isinstance(came, dict):
        raise HandlerError(f"{task.element_id}: no {name!r} in the data; run it in the event "
                           f"sub-process started by the message {name!r}")
    risks = [label for flag, label in (("immediate_risk", "an immediate safeguarding concern"),
                                       ("crime_suspected", "a crime may have been committed"),
                                       ("missing", "the child is missing")) if came.get(flag)]
    text = (f"Another contact about this child was received {came.get('received_at')} "
            f"(reference {came.get('reference')}, {came.get('channel')}, from "
            f"{came.get('referrer')})" + (f"; it says {', '.join(risks)}" if risks else "")
            + f". Concerns: {came.get('concerns')}")
    child_id = (task.data.get("child") or {}).get("id")
    task.services.case_records.add_note(child_id, task.instance_id, "another_contact", text)


@handler("join_contact", sets=("joined",))
def join_contact(task: HandlerContext) -> None:
    """The manager's decision (`join`: `join` or `assess_separately`), recorded on the link
    and on both contacts' case notes. A contact is joined only to one still in progress: if
    that one ended meanwhile, this one is assessed after all (`joined` false)."""
    other = _open_contact(task)
    conn = task.services.connection
    state = conn.execute(sa.select(instances.c.state).where(instances.c.id == other)).scalar()
    wanted = task.data.get("join") == "join"
    joined = wanted and state is not None and state != "completed"
    task.services.writes.execute(contact_links.update().where(
        contact_links.c.instance_id == task.instance_id, contact_links.c.other_id == other,
        contact_links.c.kind == "in_progress").values(
        decision="joined" if joined else "assessed_separately", decided_at=task.now))
    records = task.services.case_records
    child_id = (task.data.get("child") or {}).get("id")
    if joined:
        records.add_note(child_id, task.instance_id, "joined",
                         f"Joined to contact {reference(other)}, in progress.")
        records.add_note(child_id, other, "joined",
                         f"Contact {reference(task.instance_id)} joined to this one.")
    elif wanted:
        records.add_note(child_id, task.instance_id, "joined",
                         f"Not joined: contact {reference(other)} ended before the decision; "
                         "assessed on its own.")
    task.data["joined"] = joined
