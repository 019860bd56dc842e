"""Alembic driven from Python, so `crisis db upgrade` needs no alembic.ini."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from crisis.core.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> list[tuple[str, str]]:
    """Migrate to `revision`; returns the migrations applied, oldest first, as (revision, title)."""
    from alembic.script import ScriptDirectory

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_heads()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_heads()
    if tuple(before) == tuple(after):
        return []
    script = ScriptDirectory.from_config(config)
    applied = list(script.iterate_revisions(after, before or "base"))
    applied = [s for s in applied if s.revision not in before]
    return [(s.revision, (s.doc or "").splitlines()[0] if s.doc else "") for s in reversed(applied)]


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def revision(engine: Engine, message: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


def schema_differences(engine: Engine, metadata: MetaData) -> list:
    """What autogenerate would change: empty when the models (`metadata`, every capability's:
    crisis.models.Base.metadata) and the migrated database agree."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)
