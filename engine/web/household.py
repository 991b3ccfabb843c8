"""A case's household and repeat contacts on its page and its tasks (issue 17): the other
children the same contact named, the other contacts about the same child, and what those
brought to this one while it was open. Links only to the cases the reader may see."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from .. import queries
from ..api.auth import Caller
from . import reads, timing

KINDS = {"in_progress": "while that one was in progress",
         "recent": "within the re-referral window after that one ended"}
DECISIONS = {"joined": "joined to it", "assessed_separately": "assessed separately"}


def household(conn: Connection, caller: Caller, instance_id: str,
              zone: ZoneInfo) -> dict[str, Any]:
    def case(other: str) -> dict[str, Any]:
        about = reads.about(conn, [other]).get(other, {})
        row = queries.instance_row(conn, other)
        return {"id": other, "reference": other.split("-")[0].upper(),
                "name": about.get("child_name") or "Name not given",
                "state": row.outcome.replace("_", " ") if row.outcome else row.state,
                "visible": reads.may_see_instance(conn, caller, other)}

    contact_id = queries.contact_id_of(conn, instance_id)
    members = queries.contact_members(conn, contact_id) if contact_id else [instance_id]
    links = queries.contact_links_of(conn, instance_id)
    return {
        "siblings": [case(m) for m in members if m != instance_id],
        "earlier": [{**case(link["instance_id"]), "how": KINDS.get(link["kind"], link["kind"]),
                     "decision": DECISIONS.get(link["decision"] or "", ""),
                     "at": timing.local(link["at"], zone)} for link in links["earlier"]],
        "later": [{**case(link["instance_id"]), "decision": DECISIONS.get(
                       link["decision"] or "", "waiting for a manager's decision"
                       if link["kind"] == "in_progress" else ""),
                   "at": timing.local(link["at"], zone)} for link in links["later"]],
        "notes": [{"at": timing.local(n["at"], zone), "text": n["text"]}
                  for n in queries.another_contact_notes(conn, instance_id)],
    }
