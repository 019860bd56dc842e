"""The models and the Alembic migrations describe the same schema (on this run's database)."""

from sqlalchemy import create_engine, inspect

from crisis.core import migrate
from crisis.core.db import db
from crisis.models import Base


def test_autogenerate_finds_no_difference(app):
    assert migrate.schema_differences(db.engine, Base.metadata) == []


def test_every_table_is_created_by_the_migrations(app):
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    # On a private SQLite file, so the shared test database is left alone.
    engine = create_engine(f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}")
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.schema_differences(engine, Base.metadata) == []
