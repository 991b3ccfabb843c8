"""Receiving a contact: the fields every later step and condition may rely on."""

from __future__ import annotations

from typing import Any

from engine.clock import iso_z
from engine.registry import HandlerContext, handler
from handlers import matching

# Decisions people make later; present from the start (empty) so conditions can test them.
DECISIONS = (
    "accepted", "nfa_confirmed", "approved", "rag", "consent_decision",
    "consent_override_reasons", "threshold_level", "social_worker", "strategy_discussion",
    "outcome", "reasons", "authority", "opened_at", "in_bcp", "send_back",
    # set by the diagrams: when the police were told (once per contact), and when the current
    # RAG rating's timescale started (opening the contact, or a re-rating to RED)
    "police_notified", "rag_since",
    # a contact about a child whose contact is in progress (issue 17): whether the people
    # working it were told, whether a person confirmed a near match, and the join decision
    "open_contact_told", "same_child", "join", "joined", "worker_told",
)
FLAGS = ("immediate_risk", "missing", "information_request", "crime_suspected")


@handler("receive_contact", sets=("received_at", "flags", *FLAGS, "child", "referrer",
                                  "contact_id", "child_position", "siblings"), empty=DECISIONS)
def receive_contact(task: HandlerContext) -> None:
    """Records the contact: the names later steps read, and the child in `contact_children`
    (grouped with the siblings the same contact names, and found again by matching)."""
    data = task.data
    data.setdefault("received_at", iso_z(task.now))
    data["flags"] = list(data.get("flags") or [])
    for name in FLAGS:
        data[name] = bool(data.get(name, False))
    for name in DECISIONS:
        data.setdefault(name, None)
    data.setdefault("child", {})
    data.setdefault("referrer", {})
    data["contact_id"] = data.get("contact_id") or task.instance_id
    data["child_position"] = data.get("child_position") or 0
    data["siblings"] = list(data.get("siblings") or [])
    matching.record_child(task)


@handler("flag", sets=("flags",))
def flag(task: HandlerContext) -> None:
    name = task.prop("flag")
    flags: list[Any] = task.data.setdefault("flags", [])
    if name not in flags:
        flags.append(name)
