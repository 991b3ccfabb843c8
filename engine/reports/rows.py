"""Rows straight from the database driver, for the reports' one large read (a year's
contacts): SQLAlchemy's result processing costs ~15 µs a row, most of the time of a
20,000-row read. The statement is still built and compiled by SQLAlchemy; the caller takes
the values as the driver gives them (instants as text on SQLite, naive UTC on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection


def driver_rows(conn: Connection, statement: Any) -> list[tuple[Any, ...]]:
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
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()
