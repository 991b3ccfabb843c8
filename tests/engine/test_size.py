"""Flat with size (issue 20): the PPN meeting's lookups, the deadline lists and the board read
indexes that hold just the rows they need; an existing database gains those indexes and
fresh statistics; the board and GET /deadlines?since= list what they did, bounded by time.
(bench/bench_size.py times them at 100,000 instances.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from engine import queries, schema
from engine.api.auth import Caller
from engine.store import Prepared, Store, deadlines, human_tasks, instances, process_versions
from engine.web import reads
from handlers import ppn

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
NEW_INDEXES = {"ix_instances_waiting": "instances", "ix_instances_process_state": "instances",
               "ix_deadlines_pending": "deadlines", "ix_deadlines_breached": "deadlines"}
WORKER = Caller(2, "sw", frozenset({"MASH Social Worker"}))
ADMIN = Caller(1, "admin", frozenset({"admin"}))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    found = Store(database_url)
    found.create()
    yield found
    found.dispose()


def _instance(conn: sa.Connection, instance_id: str, process_id: str = "first_response",
              state: str = "waiting", **values: Any) -> None:
    version = conn.execute(sa.select(process_versions.c.id)).scalar()
    if version is None:
        version = conn.execute(process_versions.insert().values(
            process_id=process_id, version=1, hash="h", files=[], deployed_at=NOW)
            .returning(process_versions.c.id)).scalar()
    conn.execute(instances.insert().values(
        id=instance_id, process_id=process_id, version_id=version, state=state, flags=[],
        started_at=NOW - timedelta(days=30), row_version=1, workflow=b"", **values))


def _deadline(conn: sa.Connection, deadline_id: str, instance_id: str, due: datetime,
              **values: Any) -> None:
    conn.execute(deadlines.insert().values(
        id=deadline_id, instance_id=instance_id, name=deadline_id, element_id="timer",
        timer_task_id="t", started_at=due - timedelta(hours=1), due=due, **values))


def _task(conn: sa.Connection, task_id: str, instance_id: str, role: str) -> None:
    conn.execute(human_tasks.insert().values(
        id=task_id, instance_id=instance_id, element_id="e", name="n", role=role, form=[],
        created_at=NOW, status="completed"))


# -- the indexes, on a database made before them -----------------------------------------------


def test_an_existing_database_gains_the_indexes_and_fresh_statistics(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with store.transaction() as conn:
        _instance(conn, "i1")
    with store.engine.begin() as conn:  # as made by a release before issue 20
        for name in NEW_INDEXES:
            conn.execute(sa.text(f"DROP INDEX {name}"))
    monkeypatch.setattr(schema, "STATISTICS_FROM", 1)

    added = Store(store.url).create()

    assert {f"index {name}" for name in NEW_INDEXES} <= set(added)
    assert "statistics refreshed" in added
    inspector = sa.inspect(store.engine)
    for name, table in NEW_INDEXES.items():
        assert name in {i["name"] for i in inspector.get_indexes(table)}
    with store.reading() as conn:
        if store.dialect == "sqlite":
            analysed = conn.execute(sa.text(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'instances'")).scalar()
            assert analysed
        else:  # a table never analysed has reltuples -1
            assert conn.execute(sa.text(
                "SELECT reltuples FROM pg_class WHERE relname = 'instances'")).scalar() == 1
    assert Store(store.url).create() == []


def test_statistics_are_refreshed_at_start_only_once_the_database_holds_data(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "STATISTICS_FROM", 2)
    with store.transaction() as conn:
        _instance(conn, "i1")
    assert schema.refresh_statistics(store.engine) is False
    with store.transaction() as conn:
        _instance(conn, "i2")
    assert schema.refresh_statistics(store.engine) is True


# -- the queries read them ------------------------------------------------------------------


def _plans(store: Store, run: Callable[[sa.Connection], Any]) -> list[str]:
    """The query plan of each select `run` makes, as text. SQLite, with no statistics,
    chooses by the indexes' shape, so the test names the index; PostgreSQL, on tables this
    empty, would scan them and chooses among indexes by guesses: it is told to avoid
    sequential scans and the test asks for an index (bench/bench_size.py --explain shows the
    plans at 100,000 instances)."""
    made: list[Any] = []
    original = sa.engine.Connection.execute

    def capture(self: sa.engine.Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(statement, sa.sql.Select):
            made.append(statement)
        return original(self, statement, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sa.engine.Connection, "execute", capture)
        with store.reading() as conn:
            run(conn)
    plans = []
    with store.reading() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if store.dialect == "postgresql":
            cursor.execute("SET enable_seqscan = off")
        for statement in made:
            compiled = statement.compile(dialect=conn.dialect,
                                         compile_kwargs={"render_postcompile": True})
            params = compiled.construct_params()
            processors = compiled._bind_processors
            values = Prepared(statement)._params(params, compiled.positiontup, processors)
            sql = compiled.string
            explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
            cursor.execute(explain + sql, values)
            plans.append("\n".join(" ".join(str(v) for v in row) for row in cursor.fetchall()))
    return plans


def test_the_ppn_meeting_reads_its_indexes(store: Store) -> None:
    waiting, = _plans(store, lambda conn: ppn.waiting_ppns(conn, ppn.MESSAGE))
    listed, = _plans(store, lambda conn: ppn.listed_elsewhere(conn, "ppn_meeting", "x"))
    if store.dialect == "postgresql":  # empty tables: any index; bench_size shows it at size
        assert "Seq Scan" not in waiting + listed and "Index" in waiting and "Index" in listed
        return
    assert "ix_instances_waiting" in waiting
    assert "ix_instances_process_state" in listed


def test_the_deadline_lists_read_their_indexes(store: Store) -> None:
    roles = {"MASH Social Worker"}
    due, = _plans(store, lambda conn: queries.deadline_list(conn, "due", NOW, roles))
    breached = _plans(store, lambda conn: queries.deadline_list(
        conn, "breached", NOW, roles, since=NOW - timedelta(days=7)))
    board = _plans(store, lambda conn: reads.board_deadlines(conn, WORKER, NOW))
    running, = _plans(store, queries.running_versions)
    if store.dialect == "postgresql":  # empty tables: any index; bench_size shows it at size
        for plan in (due, *breached, *board, running):
            assert "Seq Scan" not in plan and "Index" in plan, plan
        return
    assert "ix_deadlines_pending" in due
    assert len(breached) == 2 and all("ix_deadlines_breached" in p for p in breached)
    assert "ix_deadlines_pending" in board[0] and "ix_deadlines_breached" in board[1]
    assert all("ix_human_tasks_instance" in p for p in [due, *breached, *board])
    assert "ix_instances_state" in running


# -- what the lists show ----------------------------------------------------------------------


def test_the_board_and_the_breached_list_since_an_instant_show_what_they_did(
        store: Store) -> None:
    week_ago = NOW - timedelta(days=7)
    with store.transaction() as conn:
        for instance_id in ("mine", "other"):
            _instance(conn, instance_id)
        _task(conn, "t1", "mine", "MASH Social Worker")
        _task(conn, "t2", "other", "Business Support Officer")
        _deadline(conn, "open_late", "mine", NOW - timedelta(days=40), met=False,
                  breached_at=NOW - timedelta(days=40))
        _deadline(conn, "late_long_ago", "mine", NOW - timedelta(days=20), met=False,
                  breached_at=NOW - timedelta(days=20), done_at=NOW - timedelta(days=19))
        _deadline(conn, "late_this_week", "mine", NOW - timedelta(days=3), met=False,
                  breached_at=NOW - timedelta(days=3), done_at=NOW - timedelta(days=2))
        _deadline(conn, "met", "mine", NOW - timedelta(days=1), met=True,
                  done_at=NOW - timedelta(days=2))
        _deadline(conn, "cancelled", "mine", NOW + timedelta(hours=1),
                  cancelled_at=NOW - timedelta(hours=1))
        _deadline(conn, "due_soon", "mine", NOW + timedelta(hours=2))
        _deadline(conn, "others", "other", NOW + timedelta(hours=1))

    with store.reading() as conn:
        def names(rows: list[dict[str, Any]]) -> list[str]:
            return [r["name"] for r in rows]

        assert names(queries.deadline_list(conn, "breached", NOW)) == [
            "open_late", "late_long_ago", "late_this_week"]
        assert names(queries.deadline_list(conn, "breached", NOW, since=week_ago)) == [
            "open_late", "late_this_week"]
        assert names(queries.deadline_list(conn, "due", NOW)) == ["others", "due_soon"]
        assert names(queries.deadline_list(conn, "due", NOW, {"MASH Social Worker"})) == [
            "due_soon"]
        assert names(reads.board_deadlines(conn, WORKER, week_ago)) == [
            "open_late", "late_this_week", "due_soon"]
        assert names(reads.board_deadlines(conn, ADMIN, week_ago)) == [
            "open_late", "late_this_week", "others", "due_soon"]
