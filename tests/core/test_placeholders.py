"""PostgreSQL through psycopg takes statements with PostgreSQL's own `$1` placeholders
(crisis.core.db.make_engine): psycopg's raw cursors send them as they are, instead of
rewriting `%(name)s` placeholders on the client for every long statement."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, literal, select, text

from crisis.core.db import db


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("native placeholders are PostgreSQL's (psycopg); SQLite keeps its own")
    return db.engine


def test_the_engine_renders_native_placeholders(postgresql):
    assert postgresql.dialect.paramstyle == "numeric_dollar"
    with postgresql.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert type(raw.cursor()).__name__ == "RawCursor"


def test_percent_signs_and_bound_values_do_not_mix(postgresql):
    with postgresql.connect() as conn:
        # A literal % beside a bound value: neither is taken for a placeholder of the other.
        assert conn.execute(text("SELECT '100%' || :x"), {"x": " sure"}).scalar() == "100% sure"
        assert conn.execute(select(literal("50%")).where(literal("a%b").like(bindparam("p"))),
                            {"p": "a%"}).scalar() == "50%"
        # The same value twice, and a list expanded into IN.
        assert conn.execute(text("SELECT :v + :v"), {"v": 2}).scalar() == 4
        assert conn.execute(text("SELECT 3 IN :xs").bindparams(bindparam("xs", expanding=True)),
                            {"xs": [1, 3]}).scalar() is True


def test_streamed_results_use_the_same_placeholders(postgresql):
    """`yield_per` (the key rotation, retention) reads through a named server-side cursor."""
    with postgresql.connect() as conn:
        rows = conn.execution_options(stream_results=True, max_row_buffer=2).execute(
            text("SELECT generate_series(1, :n)"), {"n": 5}).scalars().all()
    assert rows == [1, 2, 3, 4, 5]
