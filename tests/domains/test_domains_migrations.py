"""Migrations: up, down, up again on both backends, and no drift between models and migration."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from domains import db
from domains.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


def _tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_upgrade_downgrade_upgrade(backend: str, empty_url: str) -> None:
    assert db.current(empty_url) is None
    db.upgrade(empty_url)
    assert db.current(empty_url) == db.head()
    assert _tables(empty_url) == TABLES
    db.downgrade(empty_url, "base")
    assert db.current(empty_url) is None
    assert _tables(empty_url) == set()
    db.upgrade(empty_url, "head")
    assert db.current(empty_url) == db.head()
    assert _tables(empty_url) == TABLES


def test_models_and_latest_migration_do_not_drift(backend: str, empty_url: str) -> None:
    db.upgrade(empty_url)
    engine = db.make_engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_single_head_and_partial_unique_index_in_migration() -> None:
    assert db.head() == "0002"
    source = (db.MIGRATIONS_DIR / "versions" / "0001_initial_schema.py").read_text()
    assert "uq_guardrail_policies_one_active" in source
    assert 'postgresql_where=sa.text("active")' in source
