"""Counting the SQL statements a piece of work sends (SQLAlchemy's before_cursor_execute).

An executemany (one statement, many parameter sets) counts once: it is one
statement sent to the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


class Statements(list):
    @property
    def count(self) -> int:
        return len(self)

    def describe(self) -> str:
        return "\n".join(" ".join(s.split())[:100] for s in self)


@contextmanager
def counting_statements(engine) -> Iterator[Statements]:
    seen = Statements()

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.strip().upper().startswith(("SAVEPOINT", "RELEASE")):
            return  # bookkeeping the driver sends around a nested transaction, not work
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
