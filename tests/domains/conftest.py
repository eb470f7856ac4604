"""Database fixtures for tests/domains: real SQLite files and, when configured, real PostgreSQL.

PostgreSQL tests create their own databases (named after this process) and drop them at the
end, so the shared `test` database is never touched and reruns start clean.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from domains import db
from domains.models import Base
from tests.conftest import fresh_postgres_database

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
PEPPER = secrets.token_hex(32).encode()


@pytest.fixture(scope="session")
def pg_migrated_url() -> Iterator[str]:
    """A PostgreSQL database at head, shared by the session (tables are emptied per test)."""
    for url in fresh_postgres_database(f"teecube_test_domains_{os.getpid()}"):
        db.upgrade(url)
        yield url


@pytest.fixture
def pg_empty_url(pg_migrated_url: str) -> Iterator[str]:
    """A new, empty schema (first on search_path) for migration tests: cheaper than a database."""
    schema = f"empty_{secrets.token_hex(4)}"
    admin = create_engine(pg_migrated_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_migrated_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_empty_url")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each backend."""
    if backend == "sqlite":
        path = tmp_path / "teecube.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_migrated_url")
    # DELETE, not TRUNCATE: on tables this small it is several times faster.
    with request.getfixturevalue("pg_cleaner").begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return url


@pytest.fixture(scope="session")
def pg_cleaner(pg_migrated_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


@pytest.fixture
def pepper() -> bytes:
    return PEPPER
