"""Rows straight from the database driver, for the reports' one large read (a year's
contacts): SQLAlchemy's result processing costs ~15 µs a row, most of the time of a
20,000-row read. The statement is still built and compiled by SQLAlchemy; the caller takes
the values as the driver gives them (instants as text on SQLite, naive UTC on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Connection


def driver_rows(conn: Connection, statement: Any) -> list[tuple[Any, ...]]:
    return list(driver_iter(conn, statement))


def driver_iter(conn: Connection, statement: Any) -> Iterator[tuple[Any, ...]]:
    """The rows as they are read (on SQLite a batch at a time, not all held at once: a
    year's history is 800,000 rows), for a caller that goes through them once."""
    compiled = statement.compile(dialect=conn.dialect,
                                  compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors
    params = {key: (processors[key](value) if key in processors and value is not None else value)
              for key, value in compiled.construct_params().items()}
    order = compiled.positiontup
    arguments: Any = [params[key] for key in order] if order is not None else params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(compiled.string, arguments)
        while batch := cursor.fetchmany(10_000):
            yield from (tuple(row) for row in batch)
    finally:
        cursor.close()
