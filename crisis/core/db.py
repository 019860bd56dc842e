"""Database engine, session and column types shared by every capability.

One scoped session per thread (Flask request, scheduler job or CLI command).
Code that wants work done only once the transaction is durable (publishing to
the live dashboard, waking the SMS sender) registers it with `after_commit`;
it is dropped on rollback, so nothing is published that did not happen.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Enum,
    MetaData,
    any_,
    bindparam,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware timestamps stored in UTC on every engine.

    SQLite has no time zones, so values are normalised to UTC on the way in
    and marked UTC on the way out; naive datetimes are refused rather than
    guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def one_of(session: Session, column, values) -> ColumnElement[bool]:
    """`column IN values` for a list of ids known only at run time (a page's incidents).

    On PostgreSQL as `column = ANY(:array)`, one bound array however many values: the same
    statement every time, so neither SQLAlchemy nor psycopg renders and parses a new one with
    a parameter per value on each request, and psycopg can prepare it. Elsewhere (SQLite) `IN`.
    """
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def among(column, dialect: str, name: str = "ids") -> ColumnElement[bool]:
    """`one_of` with the ids bound later, as the parameter `name`: for a statement built once
    (`PerDialect`) and run with `{name: ids}`."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


class PerDialect:
    """A statement built once for each database dialect by `build(dialect_name)`.

    Building a statement (and SQLAlchemy working out its cache key) costs more than running a
    small one; a statement run on every page is built once instead. Per dialect, because
    `among` takes another form on PostgreSQL.
    """

    def __init__(self, build: Callable[[str], object]):
        self.build = build
        self._built: dict[str, object] = {}

    def __call__(self, session: Session):
        dialect = session.get_bind().dialect.name
        statement = self._built.get(dialect)
        if statement is None:
            statement = self._built[dialect] = self.build(dialect)
        return statement


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint on both engines."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs) -> Engine:
    if _is_sqlite(url):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # SQLite ignores foreign keys unless asked; WAL lets the in-process
            # scheduler read while a request writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    if make_url(url).get_driver_name() == "psycopg":
        return _native_placeholders(url, **kwargs)
    return create_engine(url, **kwargs)


def _native_placeholders(url: str, **kwargs) -> Engine:
    """PostgreSQL through psycopg with PostgreSQL's own `$1` placeholders.

    SQLAlchemy renders `$n` (its "numeric_dollar" style, as for asyncpg) and
    psycopg's raw cursors send the text as it is. With the default `%(name)s`
    style psycopg rewrites every statement into `$n` form on the client, and
    caches that only for short ones: a multi-row INSERT of a batch (a dispatch,
    a sweep) was parsed with a regular expression on every execution, about
    40 % of a 100-recipient dispatch's CPU.
    """
    import psycopg

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("cursor_factory", psycopg.RawCursor)
    engine = create_engine(url, paramstyle="numeric_dollar", connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _raw_server_cursors(dbapi_connection, _record):
        # Streamed results (yield_per) use named cursors: the same placeholders there.
        dbapi_connection.server_cursor_factory = psycopg.RawServerCursor

    return engine


class Database:
    """Holds the engine and the thread-scoped session for the process."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._factory = sessionmaker(expire_on_commit=False)
        self.session = scoped_session(self._factory)

    def configure(self, url: str, **engine_kwargs) -> Engine:
        if self.engine is not None and str(self.engine.url) == url:
            return self.engine
        if self.engine is not None:
            self.session.remove()
            self.engine.dispose()
        self.engine = make_engine(url, **engine_kwargs)
        self._factory.configure(bind=self.engine)
        return self.engine

    @property
    def dialect(self) -> str:
        assert self.engine is not None, "database not configured"
        return self.engine.dialect.name

    def init_app(self, app) -> None:
        self.configure(app.config["DATABASE_URL"])

        @app.teardown_appcontext
        def _remove_session(_exc):
            self.session.remove()


db = Database()


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's outermost transaction has committed.

    Registered inside a SAVEPOINT (`session.begin_nested()`), the callback joins
    the enclosing transaction when the savepoint is released and is dropped if
    the savepoint rolls back; the other pending callbacks are untouched.
    """
    session = _plain(session)
    session.info.setdefault("after_commit", []).append([session.get_nested_transaction(), callback])


class Batched:
    """An after-commit callback whose items are handed to `run` together with those of every
    other `Batched` of the same `run` in the transaction: one call per commit, not one per item
    (the timeline's events reach the live dashboard with one lookup of who may see them)."""

    def __init__(self, run: Callable[[list], None], items: list):
        self.run = run
        self.items = items

    def __call__(self) -> None:
        self.run(self.items)


def _plain(session) -> Session:
    """The thread's Session behind `db.session` (a scoped_session proxies no transaction getters)."""
    return session() if isinstance(session, scoped_session) else session


def pending_after_commit(session: Session) -> list[Callable[[], None]]:
    """The callbacks that will run when the outermost transaction commits, as far as the
    current savepoint knows: those registered in it or in a transaction around it."""
    current = _plain(session).get_nested_transaction()
    return [callback for owner, callback in session.info.get("after_commit", [])
            if owner is None or _inside(current, owner)]


# SQLAlchemy 2.1 fires `after_commit` and `after_rollback` for savepoints as well. While
# the hook runs, the savepoint is still the session's nested transaction (it is closed
# afterwards), so `get_nested_transaction()` tells a savepoint from the outermost transaction.


def _inside(owner, transaction) -> bool:
    """Whether `owner` (a savepoint or None) is `transaction` or nested within it."""
    while owner is not None:
        if owner is transaction:
            return True
        owner = owner.parent
    return False


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is not None:  # a RELEASE: the callbacks wait for the enclosing transaction
        parent = savepoint.parent
        outer = parent if parent is not None and parent.nested else None
        for pending in session.info.get("after_commit", []):
            if _inside(pending[0], savepoint):
                pending[0] = outer
        return
    callbacks = session.info.pop("after_commit", [])
    batches: dict[Callable, list] = {}
    for _owner, callback in callbacks:
        if isinstance(callback, Batched):
            batches.setdefault(callback.run, []).extend(callback.items)
            continue
        try:
            callback()
        except Exception:  # the commit stands; a failed side effect must not undo it
            log.exception("after-commit callback failed")
    for run, items in batches.items():
        try:
            run(items)
        except Exception:
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is None:  # the whole transaction: nothing it registered happened
        session.info.pop("after_commit", None)
        return
    pending = session.info.get("after_commit", [])
    pending[:] = [item for item in pending if not _inside(item[0], savepoint)]


_VERSIONED_UPDATES: dict[tuple, object] = {}  # (model, columns) -> its UPDATE, built once


def _versioned_update(model, columns: tuple[str, ...]):
    from sqlalchemy import bindparam, inspect, update

    statement = _VERSIONED_UPDATES.get((model, columns))
    if statement is None:
        mapper = inspect(model)
        table = mapper.local_table
        version = mapper.version_id_col
        assert version is not None, f"{model.__name__} has no version column"
        statement = _VERSIONED_UPDATES[(model, columns)] = (
            update(table)
            .where(table.c.id == bindparam("b_id"), version == bindparam("b_version"))
            .values({**{c: bindparam(f"v_{c}", type_=table.c[c].type) for c in columns},
                     version.key: bindparam("b_new_version"),
                     "updated_at": bindparam("b_updated_at", type_=table.c.updated_at.type)})
        )
    return statement


def update_versioned(session: Session, changes: list[tuple[object, dict]]) -> None:
    """Write `values` onto each (object, values) in `changes`: versioned rows (`version_id_col`),
    one executemany UPDATE per model and set of columns instead of the ORM's one statement per row.

    Each row's version is checked and raised as the ORM would (StaleDataError when a row
    changed meanwhile), `version` and `updated_at` move on, and the objects in the session
    are left holding what was written.
    """
    from sqlalchemy.orm.attributes import set_committed_value
    from sqlalchemy.orm.exc import StaleDataError

    if not changes:
        return
    if session.dirty:
        session.flush()  # the rows' own pending changes first, with their versions
    groups: dict[tuple, list[tuple[object, dict]]] = {}
    for obj, values in changes:
        groups.setdefault((type(obj), tuple(sorted(values))), []).append((obj, values))
    now = utcnow()
    for (model, columns), items in groups.items():
        statement = _versioned_update(model, columns)
        params = [{"b_id": obj.id, "b_version": obj.version, "b_new_version": obj.version + 1,
                   "b_updated_at": now, **{f"v_{c}": v for c, v in values.items()}} for obj, values in items]
        matched = session.connection().execute(statement, params).rowcount
        if matched != len(items):
            raise StaleDataError(f"UPDATE of {statement.table.name} expected {len(items)} rows at their versions; "
                                 f"{matched} matched")
        for obj, values in items:
            for key, value in {**values, "version": obj.version + 1, "updated_at": now}.items():
                set_committed_value(obj, key, value)
