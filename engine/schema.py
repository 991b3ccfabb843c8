"""Bringing a database up to the tables this engine declares (`engine.store.metadata`).

A new release may add tables, columns and indexes; an existing database gains them when the
service or a command starts, with the data already there kept as it is. Only additions are
made here, and only additions are allowed without a migration: a new column must be
nullable or carry a server default, so the rows already stored stay valid. Anything else (a
renamed or retyped column, data to rewrite) bumps `SCHEMA_VERSION` and adds a step to
`MIGRATIONS`, which run once, in order, in one transaction with the version they reach.

Two services starting together on an empty PostgreSQL database take an advisory lock for
this, so one creates and the other finds everything there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("mash.schema")

# Schema versions this engine knows how to reach from the one before (none yet: every
# change so far has been an addition). `MIGRATIONS[n]` takes a database from n to n + 1.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

# A fixed key for PostgreSQL's advisory lock ("mash" in ASCII).
_LOCK_KEY = 0x6D617368


class SchemaError(RuntimeError):
    """The database cannot be used by this engine: says what to do."""


def upgrade(engine: Engine, metadata: sa.MetaData, meta: sa.Table, version: int) -> list[str]:
    """Create what is missing and run pending migrations; returns what was added."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        added = _add_missing(conn, metadata)
        if any(line.startswith("index ") for line in added) and _holds_data(conn):
            analyse(conn)  # the planner's figures for the new indexes
            added.append("statistics refreshed")
        found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema")).scalar()
        if found is None:
            conn.execute(meta.insert().values(key="schema", value=str(version)))
            found = str(version)
        current = int(found)
        if current > version:
            raise SchemaError(f"the database is at schema version {current}, newer than this "
                              f"engine ({version}); run the newer release of mash")
        while current < version:
            step = MIGRATIONS.get(current)
            if step is None:
                raise SchemaError(f"no migration from schema version {current} to {current + 1}")
            step(conn)
            current += 1
            added.append(f"migrated to schema version {current}")
        conn.execute(meta.update().where(meta.c.key == "schema").values(value=str(current)))
    for line in added:
        log.info("schema: %s", line)
    return added


# Fewer instances than this and any plan is quick: statistics are not worth refreshing.
STATISTICS_FROM = 1000


def refresh_statistics(engine: Engine) -> bool:
    """Refresh the figures the query planner chooses indexes by (run as the service starts):
    SQLite keeps none until asked (ANALYZE; approximate, so quick at any size), PostgreSQL
    refreshes its own as tables grow and this brings them up to date at once. Skipped on a
    small database. Returns whether it ran."""
    with engine.begin() as conn:
        if not _holds_data(conn):
            return False
        analyse(conn)
    log.info("schema: statistics refreshed")
    return True


def analyse(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")  # rows read per index: bounded
    conn.exec_driver_sql("ANALYZE")


def _holds_data(conn: Connection) -> bool:
    if not sa.inspect(conn).has_table("instances"):
        return False
    return conn.execute(sa.text("SELECT 1 FROM instances LIMIT 1 OFFSET :n"),
                        {"n": STATISTICS_FROM - 1}).first() is not None


def _add_missing(conn: Connection, metadata: sa.MetaData) -> list[str]:
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    added: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            table.create(conn)
            added.append(f"table {table.name}")
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in columns:
                conn.execute(sa.text(_add_column(conn, table, column)))
                added.append(f"column {table.name}.{column.name}")
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(conn)
                added.append(f"index {index.name}")
    return added


def _add_column(conn: Connection, table: sa.Table, column: sa.Column[Any]) -> str:
    if column.primary_key:
        raise SchemaError(f"{table.name}.{column.name} is a new primary key column: that needs "
                          "a migration, not an addition")
    default = column.server_default
    if not column.nullable and default is None:
        raise SchemaError(f"{table.name}.{column.name} is a new NOT NULL column without a "
                          "server default: give it one (or make it nullable) so stored rows "
                          "stay valid")
    preparer = conn.dialect.identifier_preparer
    kind = column.type.compile(dialect=conn.dialect)
    sql = (f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN "
           f"{preparer.format_column(column)} {kind}")
    if default is not None:
        text = getattr(default, "arg", None)
        if isinstance(text, sa.sql.elements.TextClause):
            sql += f" DEFAULT {text.text}"
        elif isinstance(text, str):
            sql += " DEFAULT " + conn.dialect.statement_compiler(
                conn.dialect, None).render_literal_value(text, sa.String())
        else:
            raise SchemaError(f"{table.name}.{column.name}: give its server default as text")
    if not column.nullable:
        sql += " NOT NULL"
    return sql
