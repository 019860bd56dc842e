"""`crisis keys`: make a new encryption key, and re-encrypt everything with the newest one.

Rotating a key (crisis.core.crypto):

1. `crisis keys generate` prints a new Fernet key.
2. Put it first in ENCRYPTION_KEYS, keeping the old ones after it
   (`ENCRYPTION_KEYS=new,old`), and restart: new values use the new key,
   old ones still decrypt.
3. `crisis keys rotate` re-encrypts every encrypted column of every table
   with the newest key and recomputes the phone-number digests (blind
   indexes) with it, in batches, each committed on its own. It can be
   stopped and run again: values already under the newest key are skipped.
4. When it reports nothing left under old keys, remove the old key from
   ENCRYPTION_KEYS.

Opt-outs (`sms_opt_outs`) keep only a digest of the number that said STOP.
They are re-keyed through any number the system still holds (staff, a
relative, a message) whose old digest matches; the command reports any it
could not re-key, which would stop matching once the old key is removed.

An entry point beside crisis/cli.py rather than part of core: it reaches the
encrypted columns and phone digests of every capability's models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import click
from cryptography.fernet import Fernet
from flask.cli import with_appcontext
from sqlalchemy import Column, Table, Text, select, tuple_, type_coerce, update
from sqlalchemy.orm import Session

from crisis.core.crypto import EncryptedJSON, EncryptedText, keyring

DEFAULT_BATCH = 500


@dataclass
class RotationReport:
    reencrypted: dict[str, int] = field(default_factory=dict)  # "table.column" -> values re-encrypted
    digests: dict[str, int] = field(default_factory=dict)  # "table.column" -> digests recomputed
    opt_outs_rekeyed: int = 0
    opt_outs_unmatched: int = 0  # of numbers the system no longer holds

    def lines(self) -> list[str]:
        out = [f"{name}: {count} value(s) re-encrypted" for name, count in sorted(self.reencrypted.items())]
        out += [f"{name}: {count} digest(s) recomputed" for name, count in sorted(self.digests.items())]
        out.append(f"sms_opt_outs: {self.opt_outs_rekeyed} re-keyed")
        if self.opt_outs_unmatched:
            out.append(f"sms_opt_outs: {self.opt_outs_unmatched} belong to numbers no longer held; any made "
                       "under an old key stop matching when that key is removed from ENCRYPTION_KEYS")
        return out


def encrypted_columns(metadata) -> Iterator[tuple[Table, Column]]:
    """Every encrypted column (EncryptedText, and EncryptedJSON since issue 14), in a stable order."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (EncryptedText, EncryptedJSON)):
                yield table, column


def _batches(session: Session, table: Table, columns: list[Column], batch: int) -> Iterator[list]:
    """Rows (primary key..., raw value...) in primary-key order, `batch` at a time."""
    key = list(table.primary_key.columns)
    raw = [type_coerce(c, Text).label(c.name) for c in columns]
    last = None
    while True:
        query = select(*key, *raw).order_by(*key).limit(batch)
        if last is not None:
            query = query.where(tuple_(*key) > tuple_(*last)) if len(key) > 1 else query.where(key[0] > last[0])
        rows = session.execute(query).all()
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][: len(key)])


def reencrypt_column(session: Session, table: Table, column: Column, batch: int = DEFAULT_BATCH) -> int:
    """Re-encrypt `column` with the newest key; returns how many values changed."""
    key = list(table.primary_key.columns)
    changed = 0
    for rows in _batches(session, table, [column], batch):
        for row in rows:
            token = row[-1]
            if token is None or keyring.is_current(token):
                continue
            # Compare and set on the stored text: a value changed meanwhile is left for the next run.
            statement = (
                update(table)
                .where(*(k == v for k, v in zip(key, row[: len(key)], strict=True)),
                       type_coerce(column, Text) == token)
                .values({column.name: type_coerce(keyring.rotate(token), Text)})
            )
            changed += session.execute(statement).rowcount
        session.commit()
    return changed


@dataclass(frozen=True)
class BlindIndex:
    """A digest column kept beside an encrypted value so the value can be found again."""

    model: type
    digest: str
    plaintext: Callable[[object], str | None]

    @property
    def name(self) -> str:
        return f"{self.model.__tablename__}.{self.digest}"


def blind_indexes() -> list[BlindIndex]:
    from crisis.incidents.models import Relative
    from crisis.messaging.models import Message

    return [
        BlindIndex(Relative, "phone_digest", lambda r: r.phone),
        BlindIndex(Message, "counterpart_digest", lambda m: m.counterpart_number),
    ]


def recompute_digests(session: Session, index: BlindIndex, batch: int = DEFAULT_BATCH) -> int:
    model = index.model
    digest_column = getattr(model, index.digest)
    changed = 0
    last_id = 0
    while True:
        rows = session.scalars(select(model).where(model.id > last_id).order_by(model.id).limit(batch)).all()
        if not rows:
            return changed
        for row in rows:
            value = index.plaintext(row)
            wanted = keyring.digest(value) if value else None
            if getattr(row, index.digest) != wanted:
                # Core UPDATE: no version bump, no updated_at change; the record itself is unchanged.
                session.execute(update(model).where(model.id == row.id).values({digest_column.key: wanted})
                                .execution_options(synchronize_session=False))
                changed += 1
        last_id = rows[-1].id
        session.commit()
        session.expunge_all()


def known_numbers(session: Session) -> Iterator[str]:
    """Every phone number the system holds (to re-key opt-outs by)."""
    from crisis.auth.models import User
    from crisis.incidents.models import Relative
    from crisis.messaging.models import Message

    seen: set[str] = set()
    sources = [
        select(User.phone).where(User.phone.is_not(None)),
        select(Relative.phone).where(Relative.phone.is_not(None)),
        select(Message.to_number).where(Message.to_number.is_not(None)),
        select(Message.from_number).where(Message.from_number.is_not(None)),
    ]
    for query in sources:
        for number in session.scalars(query.execution_options(yield_per=DEFAULT_BATCH)):
            if number and number not in seen:
                seen.add(number)
                yield number


def rekey_opt_outs(session: Session) -> tuple[int, int]:
    """Move opt-outs stored under an old key's digest to the newest.

    Returns (re-keyed, unmatched): unmatched opt-outs belong to numbers the
    system no longer holds; if they were made under an old key they stop
    matching once that key is removed."""
    from crisis.messaging.models import SmsOptOut

    rows = {row.phone_digest: row for row in session.scalars(select(SmsOptOut))}
    if not rows:
        return 0, 0
    matched: set[str] = set()
    rekeyed = 0
    for number in known_numbers(session):
        digests = keyring.digests(number)
        newest = digests[0]
        if newest in rows:
            matched.add(newest)
        for old in digests[1:]:
            row = rows.pop(old, None)
            if row is None:
                continue
            existing = session.get(SmsOptOut, newest)
            if existing is None:
                session.add(SmsOptOut(phone_digest=newest, opted_out=row.opted_out, keyword=row.keyword,
                                      changed_at=row.changed_at))
            elif existing.changed_at < row.changed_at:
                # Both held a choice for the number: the later one stands.
                existing.opted_out, existing.keyword, existing.changed_at = row.opted_out, row.keyword, row.changed_at
            session.delete(row)
            session.flush()
            matched.add(newest)
            rekeyed += 1
    session.commit()
    unmatched = len(set(rows) - matched) if keyring.key_count > 1 else 0
    return rekeyed, unmatched


def rotate_all(session: Session, metadata, batch: int = DEFAULT_BATCH) -> RotationReport:
    """Re-encrypt every encrypted column and recompute every blind index with the newest key."""
    report = RotationReport()
    for table, column in encrypted_columns(metadata):
        report.reencrypted[f"{table.name}.{column.name}"] = reencrypt_column(session, table, column, batch)
    for index in blind_indexes():
        report.digests[index.name] = recompute_digests(session, index, batch)
    report.opt_outs_rekeyed, report.opt_outs_unmatched = rekey_opt_outs(session)
    return report


def values_under_old_keys(session: Session, metadata) -> int:
    """How many encrypted values a newest-key-only configuration could not read."""
    count = 0
    for table, column in encrypted_columns(metadata):
        for rows in _batches(session, table, [column], DEFAULT_BATCH):
            count += sum(1 for row in rows if row[-1] is not None and not keyring.is_current(row[-1]))
    session.rollback()
    return count


@click.group("keys")
def keys_cli() -> None:
    """Encryption keys of the sensitive columns (ENCRYPTION_KEYS)."""


@keys_cli.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it first in ENCRYPTION_KEYS, keep the old ones after it)."""
    click.echo(Fernet.generate_key().decode())


@keys_cli.command("rotate")
@click.option("--batch", default=DEFAULT_BATCH, type=click.IntRange(1, 100_000), show_default=True,
              help="Rows per transaction.")
@with_appcontext
def keys_rotate(batch: int) -> None:
    """Re-encrypt every encrypted value and recompute the phone digests with the newest key."""
    from crisis.core.db import db
    from crisis.models import Base

    if keyring.key_count < 2:
        click.echo("Only one key is configured: values already use it; digests are checked anyway.")
    report = rotate_all(db.session, Base.metadata, batch)
    for line in report.lines():
        click.echo(line)
    left = values_under_old_keys(db.session, Base.metadata)
    if left:
        raise click.ClickException(f"{left} value(s) are still under an old key (changed during the run?); "
                                   "run `crisis keys rotate` again before removing the old key.")
    click.echo("Every encrypted value uses the newest key. Old keys can be removed from ENCRYPTION_KEYS "
               "once every process runs with the new list.")
