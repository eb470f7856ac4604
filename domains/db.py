"""Engines, sessions and migrations. Alembic is configured in code: no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

import migrations

# __path__, not __file__: an editable install may expose the package as a namespace.
MIGRATIONS_DIR = Path(next(iter(migrations.__path__))).resolve()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a SQLite or PostgreSQL URL (SQLite: foreign keys on, WAL, busy timeout)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if url not in ("sqlite://", "sqlite:///:memory:"):
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(url_or_engine: str | Engine) -> sessionmaker[Session]:
    """Sessions for one unit of work each: `with factory.begin() as session: ...`."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def _with_engine(url: str | Engine) -> tuple[Engine, bool]:
    if isinstance(url, Engine):
        return url, False
    return make_engine(url), True


def upgrade(url: str | Engine, rev: str = "head") -> None:
    engine, owned = _with_engine(url)
    try:
        command.upgrade(alembic_config(engine), rev)
    finally:
        if owned:
            engine.dispose()


def downgrade(url: str | Engine, rev: str = "base") -> None:
    engine, owned = _with_engine(url)
    try:
        command.downgrade(alembic_config(engine), rev)
    finally:
        if owned:
            engine.dispose()


def current(url: str | Engine) -> str | None:
    """The database's revision, or None if it was never migrated."""
    engine, owned = _with_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def head() -> str:
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]
