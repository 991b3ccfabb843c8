"""The undelivered-notification metrics (engine/incidents.py) counted by the database: by
kind, the oldest's age, and how many are past their threshold (5 minutes for the urgent
kinds, 15 for the others by default) — the same figures a row-by-row count gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine import incidents
from engine.outbox import URGENT_KINDS
from engine.store import Store, notifications

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_undelivered_by_kind_oldest_and_past_threshold(database_url: str) -> None:
    assert "police_notification" in URGENT_KINDS and "nfa_to_referrer" not in URGENT_KINDS
    ages = {  # kind -> minutes since each unsent one was made
        "police_notification": [2, 6, 30],  # urgent: 6 and 30 are past 5 minutes
        "nfa_to_referrer": [10, 16, 120],  # 16 and 120 are past 15 minutes
    }
    store = Store(database_url)
    store.create()
    with store.transaction() as conn:
        n = 0
        for kind, minutes in ages.items():
            for m in minutes:
                n += 1
                conn.execute(notifications.insert().values(
                    id=f"n{n}", instance_id=None, kind=kind, recipient="x@example.org",
                    subject="s", body="b", created_at=NOW - timedelta(minutes=m), attempts=1))
        conn.execute(notifications.insert().values(  # delivered: not counted at all
            id="sent", instance_id=None, kind="police_notification", recipient="x@example.org",
            subject="s", body="b", created_at=NOW - timedelta(days=3), sent_at=NOW,
            attempts=1))
    with store.reading() as conn:
        lines = incidents.metric_lines(conn, NOW, incidents.Settings(
            undelivered_after=timedelta(minutes=15),
            urgent_undelivered_after=timedelta(minutes=5)))
        listed = incidents.undelivered(conn, NOW, incidents.Settings(
            undelivered_after=timedelta(minutes=15),
            urgent_undelivered_after=timedelta(minutes=5)))
    store.dispose()
    assert 'mash_notifications_undelivered{kind="police_notification"} 3' in lines
    assert 'mash_notifications_undelivered{kind="nfa_to_referrer"} 3' in lines
    assert 'mash_notifications_undelivered_oldest_seconds{kind="police_notification"} 1800' in lines
    assert 'mash_notifications_undelivered_oldest_seconds{kind="nfa_to_referrer"} 7200' in lines
    assert "mash_notification_incidents 4" in lines
    assert len(listed) == 4  # the incident list agrees with the metric
