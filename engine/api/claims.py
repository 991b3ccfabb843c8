"""Claiming a task reserves it: while the claim holds, nobody else of the role completes it.

A claim lasts `CLAIM_PERIOD` (MASH_CLAIM_MINUTES, default two hours) from when it was made
or last renewed (claiming again renews it); then it lapses and anyone of the role may
complete or claim the task. The holder, a manager (a role whose lane name says manager) or
an admin releases it sooner. Completing a task claimed by someone else is refused with a
409 naming the holder (a member of staff, never anything about the child).

The check runs inside the transaction that completes the task (`hold`, passed to
`Engine.complete` as one of its `within` writes), so a claim made while another person's
completion is in flight either lands first and refuses it, or finds the task done.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..runtime import Advance
from ..store import Store, human_tasks
from .auth import Caller


def claim_period() -> timedelta:
    minutes = os.environ.get("MASH_CLAIM_MINUTES", "120")
    if not minutes.isdigit() or not 1 <= int(minutes) <= 24 * 60:
        raise ValueError(f"MASH_CLAIM_MINUTES={minutes}: give whole minutes from 1 to 1440")
    return timedelta(minutes=int(minutes))


CLAIM_PERIOD = claim_period()


class ClaimRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Claim:
    holder: str
    until: datetime


def current_claim(row: Any, now: datetime) -> Claim | None:
    """The claim on a task row that still holds at `now`, if any."""
    return _claim_of(row, now) if row.status == "open" else None


def _claim_of(row: Any, now: datetime) -> Claim | None:
    if row.claimed_by is None:
        return None
    until = row.claim_expires_at or (
        row.claimed_at + CLAIM_PERIOD if row.claimed_at is not None else None)
    if until is None or until <= now:
        return None
    return Claim(row.claimed_by, until)


def may_release(caller: Caller, holder: str) -> bool:
    return caller.admin or caller.name == holder or any("manager" in r.lower() for r in caller.roles)


def _row(conn: Connection, task_id: str, lock: bool) -> Any:
    query = sa.select(human_tasks).where(human_tasks.c.id == task_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def claim(store: Store, task_id: str, caller: Caller, now: datetime) -> Claim:
    """Reserve an open task for the caller (or renew the caller's claim)."""
    with store.transaction() as conn:
        row = _row(conn, task_id, lock=True)
        if row is None:
            raise ClaimRefused(404, "no such task")
        if row.status != "open":
            raise ClaimRefused(409, f"is already {row.status}"
                               + (f" by {row.completed_by}" if row.completed_by else ""))
        held = current_claim(row, now)
        if held is not None and held.holder != caller.name:
            raise ClaimRefused(409, f"is claimed by {held.holder} until "
                                    f"{held.until.isoformat()}; ask them to release it")
        until = now + CLAIM_PERIOD
        conn.execute(human_tasks.update().where(human_tasks.c.id == task_id).values(
            claimed_by=caller.name, claimed_at=now, claim_expires_at=until))
    return Claim(caller.name, until)


def release(store: Store, task_id: str, caller: Caller, now: datetime) -> None:
    """Give up a claim (the holder), or take it off someone (a manager, an admin)."""
    with store.transaction() as conn:
        row = _row(conn, task_id, lock=True)
        if row is None:
            raise ClaimRefused(404, "no such task")
        held = current_claim(row, now)
        if held is None:
            return  # nothing to release: done already (a retry is harmless)
        if not may_release(caller, held.holder):
            raise ClaimRefused(403, f"is claimed by {held.holder}: only they, a manager or an "
                                    "admin may release it")
        conn.execute(human_tasks.update().where(human_tasks.c.id == task_id).values(
            claimed_by=None, claimed_at=None, claim_expires_at=None))


def held_by_other(row: Any, caller: Caller, now: datetime) -> Claim | None:
    held = current_claim(row, now)
    return held if held is not None and held.holder != caller.name else None


def refusal(held: Claim) -> str:
    return (f"is claimed by {held.holder} until {held.until.isoformat()}: it can be completed "
            "by them, or once they release it or the claim lapses")


def hold(task_id: str, caller: Caller, now: datetime) -> Callable[[Connection, Advance], None]:
    """A write for `Engine.complete(within=...)`: refuses, inside the completing transaction,
    a task someone else holds a claim on."""

    def check(conn: Connection, advance: Advance) -> None:
        row = _row(conn, task_id, lock=False)
        if row is not None:
            held = _claim_of(row, now)  # (the row is closed already by this command)
            if held is not None and held.holder != caller.name:
                raise ClaimRefused(409, refusal(held))
    return check


def both(*writes: Callable[[Connection, Advance], None] | None
         ) -> Callable[[Connection, Advance], None]:
    """Several `within` writes as one."""

    def run(conn: Connection, advance: Advance) -> None:
        for write in writes:
            if write is not None:
                write(conn, advance)
    return run
