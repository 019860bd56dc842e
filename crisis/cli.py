"""The `crisis` console script (a Flask CLI group; DESIGN.md "Contract")."""

from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup, with_appcontext

from crisis.core.db import db
from crisis.playbooks.commands import playbooks_cli


def _create_app():
    from crisis import create_app
    from crisis.core.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:  # the message says what to set; a traceback would only hide it
        click.echo(str(error), err=True)
        raise SystemExit(2) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Crisis-response coordination: support to relatives after shootings and lethal violence."""


# -- database ---------------------------------------------------------------


@main.group("db")
def db_cli() -> None:
    """Database schema (Alembic migrations)."""


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or update the schema to REVISION (default: head)."""
    from crisis.core import migrate

    migrate.upgrade(db.engine, revision)
    click.echo(f"Database at {revision} ({db.dialect}).")


@db_cli.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION."""
    from crisis.core import migrate

    migrate.downgrade(db.engine, revision)
    click.echo(f"Database at {revision}.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a new migration from the difference between models and database."""
    from crisis.core import migrate

    migrate.revision(db.engine, message)


@db_cli.command("check")
@with_appcontext
def db_check() -> None:
    """Exit non-zero if the models and the migrated database differ."""
    from crisis.core import migrate

    diff = migrate.schema_differences(db.engine)
    for item in diff:
        click.echo(repr(item))
    sys.exit(1 if diff else 0)


# -- users and tokens ---------------------------------------------------------


@main.group("users")
def users_cli() -> None:
    """Staff accounts."""


@users_cli.command("create")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              help="coordinator, outreach, manager or admin (repeatable).")
@click.option("--password", help="At least 10 characters; omit to be asked.")
@click.option("--name", help="Display name.")
@click.option("--phone", help="Mobile number, e.g. +46701234567 (for dispatch SMS).")
@click.option("--district", "district_code", help="District code, e.g. farsta.")
@with_appcontext
def users_create(email, roles, password, name, phone, district_code) -> None:
    """Create a staff account."""
    from sqlalchemy import select

    from crisis.auth.services import AccountError, create_user
    from crisis.organisation.models import District

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    district_id = None
    if district_code:
        district_id = db.session.scalar(select(District.id).where(District.code == district_code))
        if district_id is None:
            raise click.UsageError(f"No district with code {district_code!r} (see `crisis demo`).")
    try:
        user = create_user(db.session, email=email, roles=list(roles), name=name,
                           password=password, phone=phone, district_id=district_id)
    except AccountError as exc:
        db.session.rollback()
        raise click.UsageError(str(exc)) from None
    db.session.commit()
    click.echo(f"Created user {user.id} {user.email} ({', '.join(sorted(r.value for r in user.roles))}).")


@main.group("tokens")
def tokens_cli() -> None:
    """API bearer tokens."""


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@click.option("--days", type=click.IntRange(1, 3650), help="Expire after this many days.")
@with_appcontext
def tokens_create(email: str, name: str, days: int | None) -> None:
    """Create a bearer token for EMAIL and print it (it is shown only once)."""
    from datetime import timedelta

    from sqlalchemy import select

    from crisis.auth.models import User
    from crisis.auth.services import create_token

    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.UsageError(f"No user with e-mail {email}.")
    issued = create_token(db.session, user, name, timedelta(days=days) if days else None)
    db.session.commit()
    click.echo(issued.token)


# -- demo data, processes -----------------------------------------------------


@main.command("demo")
@with_appcontext
def demo() -> None:
    """Load demo data: Stockholm's districts, fictional staff, teams, support organisations."""
    from crisis.demo import load_demo

    report = load_demo(db.session)
    db.session.commit()
    for line in report:
        click.echo(line)


@main.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Run the one scheduler process (APScheduler; the database rows are the truth)."""
    from crisis.scheduler import run_scheduler_forever

    run_scheduler_forever()


@main.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True,
              help="Run the scheduler jobs in this process (for local use).")
@with_appcontext
def serve(host: str, port: int, with_scheduler: bool) -> None:
    """Serve the web app and Socket.IO (and, locally, the scheduler) in one process."""
    from flask import current_app

    from crisis.core.extensions import socketio

    if with_scheduler:
        from crisis.scheduler import start_background_scheduler

        start_background_scheduler(current_app._get_current_object())
    # FlaskGroup marks the process so that app.run() refuses to block; this
    # command is meant to block (socketio.run wraps app.run).
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    click.echo(f"Serving on http://{host}:{port}")
    socketio.run(current_app._get_current_object(), host=host, port=port,
                 allow_unsafe_werkzeug=True, use_reloader=False)


main.add_command(playbooks_cli, "playbooks")

from crisis.auth.throttle import unlock_command  # noqa: E402
from crisis.auth.twofactor import reset_two_factor_command  # noqa: E402
from crisis.core.keys_cli import keys_cli  # noqa: E402

main.add_command(keys_cli, "keys")
users_cli.add_command(reset_two_factor_command, "reset-2fa")
users_cli.add_command(unlock_command, "unlock")
