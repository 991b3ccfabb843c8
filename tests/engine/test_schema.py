"""An older database gains what a newer release adds, with its data kept; two services
starting together on an empty database both come up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from engine import schema
from engine.store import Store, metadata, tokens


def _drop_column(store: Store, table: str, column: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(f'ALTER TABLE {table} DROP COLUMN "{column}"'))


def test_a_missing_column_and_index_are_added_and_rows_are_kept(database_url: str) -> None:
    store = Store(database_url)
    store.create()
    with store.transaction() as conn:
        conn.execute(tokens.insert().values(name="bsio", roles=["x"], hash="h1",
                                            created_at=datetime(2026, 11, 23, tzinfo=UTC)))
    # As a database made by a release before `revoked_at` and the task index existed:
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_human_tasks_open"))
    _drop_column(store, "tokens", "revoked_at")

    added = Store(database_url).create()

    assert "column tokens.revoked_at" in added
    assert "index ix_human_tasks_open" in added
    inspector = sa.inspect(store.engine)
    assert "revoked_at" in {c["name"] for c in inspector.get_columns("tokens")}
    with store.reading() as conn:
        row = conn.execute(sa.select(tokens)).one()
    assert (row.name, row.hash, row.revoked_at) == ("bsio", "h1", None)
    assert Store(database_url).create() == []  # nothing more to do
    store.dispose()


def test_a_new_required_column_without_a_default_is_refused_with_what_to_do(
        database_url: str) -> None:
    store = Store(database_url)
    store.create()
    extra = sa.MetaData()
    sa.Table("tokens", extra, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("team", sa.String(64), nullable=False))
    with pytest.raises(schema.SchemaError, match="server default"):
        schema.upgrade(store.engine, extra, metadata.tables["meta"], 1)
    with_default = sa.MetaData()
    sa.Table("tokens", with_default, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("team", sa.String(64), nullable=False, server_default="none"))
    schema.upgrade(store.engine, with_default, metadata.tables["meta"], 1)
    with store.reading() as conn:
        assert conn.execute(sa.text("SELECT team FROM tokens")).all() == []
    store.dispose()


def test_a_database_newer_than_the_engine_is_refused(database_url: str) -> None:
    store = Store(database_url)
    store.create()
    with pytest.raises(schema.SchemaError, match="newer than this engine"):
        schema.upgrade(store.engine, metadata, metadata.tables["meta"], 0)
    store.dispose()


def test_two_services_starting_together_on_an_empty_database_both_come_up(
        database_url: str) -> None:
    failures: list[BaseException] = []
    stores = [Store(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))

    def start(store: Store) -> None:
        barrier.wait()
        try:
            store.create()
        except BaseException as err:  # reported below
            failures.append(err)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with stores[0].reading() as conn:
        assert conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema'")).scalar() == "1"
    for store in stores:
        store.dispose()
