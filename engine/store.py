"""The database: tables, connection set-up and the unit of work.

SQLAlchemy Core on SQLite (the default, a file created on first use) or PostgreSQL. Every
command on an instance is one transaction (`Store.transaction()`): the workflow state, its
open tasks, deadlines, history and outbox commit together or not at all.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator

from .group_commit import GroupCommit

SCHEMA_VERSION = 1


class UTCDateTime(TypeDecorator[datetime]):
    """Instants are stored in UTC and always come back timezone-aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()


def _instance_fk() -> sa.ForeignKey:
    """Deferred to the commit: a step's rows may be written before its new instance's row."""
    return sa.ForeignKey("instances.id", deferrable=True, initially="DEFERRED")

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# The diagram files as deployed, once per distinct content.
diagram_files = sa.Table(
    "diagram_files", metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("filename", sa.String(256), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("deployed_at", UTCDateTime, nullable=False),
)

# A version of a process: the files it needs (its own and those it calls), by hash.
process_versions = sa.Table(
    "process_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("process_id", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256)),
    sa.Column("files", sa.JSON, nullable=False),
    sa.Column("deployed_at", UTCDateTime, nullable=False),
    # (not unique by hash: a diagram changed back is deployed again as a new version)
    sa.UniqueConstraint("process_id", "version"),
)

instances = sa.Table(
    "instances", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("process_id", sa.String(128), nullable=False),
    sa.Column("version_id", sa.Integer, sa.ForeignKey("process_versions.id"), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # running waiting incident completed
    sa.Column("outcome", sa.String(64)),
    sa.Column("rag", sa.String(8)),
    sa.Column("flags", sa.JSON, nullable=False, default=list),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("next_due", UTCDateTime, index=True),  # the soonest timer or retry
    sa.Column("waiting_for", sa.String(128), index=True),  # a message it waits for
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("about", sa.String(36)),  # the instance a disagreement is about
    sa.Column("reference", sa.String(64)),  # the caller's own id (scenario contact id)
    sa.Column("summary", sa.JSON),  # who it is about, for lists: child, channel, received_at
    sa.Column("row_version", sa.Integer, nullable=False),
    sa.Column("workflow", sa.LargeBinary, nullable=False),  # engine.bpmn.state
    # While in incident: since when, and the element whose step failed (engine/incidents.py).
    sa.Column("incident_since", UTCDateTime),
    sa.Column("error_element", sa.String(128)),
    sa.Index("ix_instances_state", "state"),
    # When the retention schedule removed its personal data (engine/retention.py).
    sa.Column("anonymised_at", UTCDateTime),
)

human_tasks = sa.Table(
    "human_tasks", metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # the SpiffWorkflow task id
    sa.Column("instance_id", sa.String(36), _instance_fk(), nullable=False),
    sa.Column("element_id", sa.String(128), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("role", sa.String(128), nullable=False),
    sa.Column("form", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("due", UTCDateTime),
    sa.Column("status", sa.String(16), nullable=False),  # open | completed | cancelled
    sa.Column("claimed_by", sa.String(128)),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("completed_by", sa.String(128)),
    sa.Index("ix_human_tasks_open", "status", "role"),
    # A claim reserves the task for `claimed_by` until then (engine/api/claims.py).
    sa.Column("claim_expires_at", UTCDateTime),
    sa.Index("ix_human_tasks_instance", "instance_id"),
)

deadlines = sa.Table(
    "deadlines", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.String(36), _instance_fk(), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("element_id", sa.String(128), nullable=False),  # the timer event
    sa.Column("timer_task_id", sa.String(36), nullable=False),
    sa.Column("activity_task_id", sa.String(36)),  # what the timer is attached to
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("due", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime),
    sa.Column("breached_at", UTCDateTime),
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("met", sa.Boolean),
    sa.Index("ix_deadlines_instance", "instance_id"),
    sa.Index("ix_deadlines_open", "done_at", "due"),
)

notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.String(36), _instance_fk()),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(256), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    # Delivery (engine/outbox.py): retried with back-off for as long as it takes; a mailer
    # holds a lease on one while it sends, outside any transaction.
    sa.Column("next_attempt_at", UTCDateTime),  # none: as soon as possible
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("claimed_by", sa.String(64)),
    # When the alarm was last raised for it, undelivered too long (engine/incidents.py).
    sa.Column("alarm_at", UTCDateTime),
    sa.Index("ix_notifications_unsent", "sent_at"),
    sa.Index("ix_notifications_instance", "instance_id"),
)

# Messages between instances (a PPN meeting's rating to the contact waiting for it),
# written in the sender's transaction and delivered after it commits.
messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("note", sa.String(256)),
    sa.Index("ix_messages_pending", "delivered_at"),
)

# Processes that start on a timer (the daily PPN meeting): when each next starts.
schedules = sa.Table(
    "schedules", metadata,
    sa.Column("process_id", sa.String(128), primary_key=True),
    sa.Column("expression", sa.Text, nullable=False),
    sa.Column("next_at", UTCDateTime),
)

# Append-only: what happened, when, by whom, and which data it changed.
history = sa.Table(
    "history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.String(36), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("element_id", sa.String(128)),
    sa.Column("element_name", sa.String(256)),
    sa.Column("flow_id", sa.String(128)),  # the sequence flow that led to the element
    sa.Column("role", sa.String(128)),
    sa.Column("changes", sa.JSON),
    sa.Index("ix_history_instance", "instance_id", "id"),
)

# The engine's own case records (behind handlers.case_records' adapter).
children = sa.Table(
    "children", metadata,
    sa.Column("child_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # open | closed
    sa.Column("allocated_worker", sa.String(256)),
    sa.Column("worker_email", sa.String(256)),
    sa.Column("team", sa.String(256)),
    sa.Column("closed_on", sa.Date),
    # Who the child is, to match a contact that gives no case record id (issue 17), and the
    # household the child belongs to: a re-referral is considered for the whole family.
    sa.Column("name", sa.String(256)),
    sa.Column("dob", sa.Date),
    sa.Column("postcode", sa.String(16)),
    sa.Column("family", sa.String(64)),
    sa.Index("ix_children_dob", "dob"),
    sa.Index("ix_children_family", "family"),
)

case_notes = sa.Table(
    "case_notes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("child_id", sa.String(64)),
    sa.Column("instance_id", sa.String(36)),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index("ix_case_notes_child", "child_id"),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("hash", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime),  # none: an integration's token, until revoked
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("kind", sa.String(16)),  # person | integration (none: made before kinds)
)

idempotency = sa.Table(
    "idempotency", metadata,
    sa.Column("token_id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # What the key was first used for: a repeat must be the same call with the same body.
    sa.Column("method", sa.String(8)),
    sa.Column("path", sa.String(512)),
    sa.Column("body_hash", sa.String(64)),
)

# Signed-in web sessions: the cookie holds a random id whose hash is kept here, never the
# API token; signing out deletes the row, and it lapses after inactivity.
web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("token_id", sa.Integer, nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),  # the absolute end
)

# What each run of the retention schedule did (engine/retention.py): counts, never data.
retention_runs = sa.Table(
    "retention_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("instances", sa.JSON, nullable=False),  # the ids anonymised (or due, if dry)
    sa.Column("counts", sa.JSON, nullable=False),  # rows changed, by table
)


# The children a contact names (issue 17): one first_response instance each, grouped by the
# contact (`contact_id`, the first child's instance id), with what matching needs to find the
# same child again: the name as given, date of birth, postcode and case record id. Written when
# the contact is recorded (handlers/intake.py); personal data, removed by the retention schedule.
contact_children = sa.Table(
    "contact_children", metadata,
    sa.Column("instance_id", sa.String(36), primary_key=True),
    sa.Column("contact_id", sa.String(36), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("child_id", sa.String(64)),
    sa.Column("name", sa.String(500)),
    sa.Column("dob", sa.Date),
    sa.Column("postcode", sa.String(16)),
    sa.Index("ix_contact_children_contact", "contact_id"),
    sa.Index("ix_contact_children_child", "child_id"),
    sa.Index("ix_contact_children_dob", "dob"),
)

# A contact about a child who already has one (issue 17): `instance_id` is the later contact,
# `other_id` the earlier one, in progress when this one came (`in_progress`: the people working
# it were told, and a manager decided whether to join them) or ended within the re-referral
# window (`recent`).
contact_links = sa.Table(
    "contact_links", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.String(36), nullable=False),
    sa.Column("other_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # in_progress | recent
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("decision", sa.String(32)),  # joined | assessed_separately (in_progress)
    sa.Column("decided_at", UTCDateTime),
    sa.Index("ix_contact_links_instance", "instance_id"),
    sa.Index("ix_contact_links_other", "other_id"),
)

# A deployment that changed something: numbered (the generation every running service
# watches, so a `mash deploy` from anywhere is picked up without a restart), with the
# configuration deployed beside the diagrams and the version of every process it left current.
deployments = sa.Table(
    "deployments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deployed_at", UTCDateTime, nullable=False),
    sa.Column("files", sa.JSON, nullable=False),  # calendar.toml, directory.toml -> file hash
    sa.Column("versions", sa.JSON, nullable=False),  # process id -> version number
)

# What changed in an instance's workflow state at each command since its last snapshot
# (`instances.workflow`), applied in order to read it (engine/bpmn/state.py, engine/rows.py).
# `seq` is the instance's row version the command wrote.
instance_deltas = sa.Table(
    "instance_deltas", metadata,
    sa.Column("instance_id", sa.String(36), _instance_fk(), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("state", sa.LargeBinary, nullable=False),
)

# Management information (engine/reports): a period's steps and finished tasks per element,
# and the step before a wait in its instance (the heat map, read from these indexes alone);
# a process's instances by start (the timeliness dashboard).
sa.Index("ix_history_element_at", history.c.element_id, history.c.at, history.c.instance_id)
sa.Index("ix_history_instance_element", history.c.instance_id, history.c.element_id, history.c.at)
sa.Index("ix_human_tasks_element_done", human_tasks.c.element_id, human_tasks.c.completed_at,
         human_tasks.c.created_at, human_tasks.c.status)
sa.Index("ix_instances_process_started", instances.c.process_id, instances.c.started_at)

# Flat with size (issue 20): the PPN meeting's contacts waiting for it and its meetings under
# way, the deadlines not yet done and those breached, each read from an index that holds just
# those rows first, whatever the number of instances stored (engine/schema.py adds them to an
# existing database and refreshes the statistics the planner chooses by).
sa.Index("ix_instances_waiting", instances.c.waiting_for, instances.c.state, instances.c.started_at)
sa.Index("ix_instances_process_state", instances.c.process_id, instances.c.state)
sa.Index("ix_deadlines_pending", deadlines.c.done_at, deadlines.c.cancelled_at,
         deadlines.c.breached_at, deadlines.c.due)
sa.Index("ix_deadlines_breached", deadlines.c.met, deadlines.c.done_at)


def _sqlite_synchronous() -> str:
    """FULL by default: a commit is on disk before the caller hears "accepted", even across a
    power cut. NORMAL (MASH_SQLITE_SYNCHRONOUS=NORMAL) survives a crash of the service but
    may lose the last commits in a power cut; faster where disks are slow."""
    value = os.environ.get("MASH_SQLITE_SYNCHRONOUS", "FULL").upper()
    if value not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"MASH_SQLITE_SYNCHRONOUS={value}: use FULL, NORMAL or EXTRA")
    return value


def _wal(cursor: Any) -> None:
    """Write-ahead logging, once per database file. Switching a new file to WAL takes an
    exclusive lock and SQLite answers "database is locked" at once, without its busy
    handler, to another connection doing the same (services starting together on a new
    file): wait for the first to finish instead."""
    for attempt in range(200):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == 199:
                raise
            time.sleep(0.05)


def make_engine(url: str, synchronous: str | None = None) -> Engine:
    """An SQLAlchemy engine for `url`, with SQLite made safe for a durable service.
    `synchronous`: SQLite's setting for this database (default from the environment).
    Errors never carry the statement's parameters: they hold personal data and errors
    reach logs."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        # Connections are always committed or rolled back by Store.transaction, so the pool
        # need not roll back again on their return.
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  pool_reset_on_return=None, hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers run beside the writer; FULL makes each commit durable against
            # a power cut as well as a crash; foreign keys are off by default in SQLite.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if url not in ("sqlite://", "sqlite:///:memory:"):
                _wal(cursor)
                # Checkpoint the log into the database every ~40 MB rather than every 4 MB:
                # fewer, larger checkpoints; commits stay small appends to the log.
                cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.execute(f"PRAGMA synchronous={synchronous or _sqlite_synchronous()}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # A writer takes the write lock at the start, so two writers queue instead of
            # deadlocking on lock upgrade; readers begin deferred and never block a writer.
            readonly = conn.get_execution_options().get("mash_readonly", False)
            conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                            hide_parameters=True)


class Store:
    """Owns the database connection pool; hands out one transaction per unit of work."""

    def __init__(self, url: str, synchronous: str | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, synchronous)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer at a time: threads of this process queue for it in
        # engine/group_commit.py, and those that arrive together share a commit (one fsync).
        # (Other processes on the same file wait in SQLite's busy handler.) PostgreSQL runs
        # each unit of work in its own transaction: its writers run side by side, and it
        # groups their commits' log flushes itself.
        self.group = GroupCommit(self.engine) if self.dialect == "sqlite" else None

    def create(self) -> list[str]:
        """Create the tables, columns and indexes that are missing (a new SQLite file needs
        no set-up; an older database gains what a newer release added, data kept); returns
        what was added. See engine/schema.py."""
        from .schema import upgrade

        return upgrade(self.engine, metadata, meta, SCHEMA_VERSION)

    @contextmanager
    def transaction(self, alone: bool = False) -> Iterator[Connection]:
        """One unit of work, committed when this returns (or rolled back, raising).
        On SQLite it may share its commit with others that arrived together; if that
        commit fails it raises group_commit.BatchFailed, and the work can be run again
        `alone`."""
        if self.group is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.group.transaction(alone) as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(mash_readonly=True) as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


class Prepared:
    """A hot-path write, compiled once per dialect and set of columns, then run straight on
    the DBAPI cursor of the current transaction.

    SQLAlchemy's Core costs about 0.1 ms a statement in building and checking; a command
    writes half a dozen, so the engine's few hot writes skip that and keep SQLAlchemy's own
    type handling (its compiled bind processors: UTC instants, JSON)."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, frozenset[str]], tuple[str, Any, Any]] = {}

    def _compile(self, dialect: Any, keys: frozenset[str]) -> tuple[str, Any, Any]:
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            compiled = self.statement.compile(
                dialect=dialect, column_keys=sorted(keys) if self.statement.is_dml else None)
            processors = dict(compiled._bind_processors)
            found = (compiled.string, compiled.positiontup, processors)
            self._compiled[(dialect.name, keys)] = found
        return found

    def _params(self, row: dict[str, Any], order: Any, processors: Any,
                instants: dict[tuple[str, datetime], Any] | None = None) -> Any:
        """`instants`: instants already converted for a column, reused (the rows of one
        command's history all carry its instant, and converting one costs ~10 us)."""
        def convert(key: str, value: Any) -> Any:
            if instants is None or value.__class__ is not datetime:
                return processors[key](value)
            found = instants.get((key, value))
            if found is None:
                found = instants[(key, value)] = processors[key](value)
            return found

        if order is None:  # named parameters (psycopg)
            return {k: (convert(k, v) if v is not None and k in processors else v)
                    for k, v in row.items()}
        values = []
        for key in order:
            value = row[key]
            if value is not None and key in processors:
                value = convert(key, value)
            values.append(value)
        return values

    def execute(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run once; returns the number of rows changed."""
        sql, order, processors = self._compile(conn.dialect, frozenset(params))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, self._params(params, order, processors))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def fetch_one(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """A select's first row as the driver gives it: select only columns that need no
        conversion (numbers, text, comparisons)."""
        sql, order, processors = self._compile(conn.dialect, frozenset(params))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, self._params(params, order, processors))
            row = cursor.fetchone()
            return None if row is None else tuple(row)
        finally:
            cursor.close()

    def execute_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        sql, order, processors = self._compile(conn.dialect, frozenset(rows[0]))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            instants: dict[tuple[str, datetime], Any] = {}
            cursor.executemany(sql, [self._params(r, order, processors, instants)
                                     for r in rows])
        finally:
            cursor.close()
