"""The `crisis` console script (docs/architecture.md "Commands").

It starts fast and quiet: nothing heavy is imported until a command needs it.
The web app is built only for commands marked `with_appcontext`; command
groups that live in other modules (`playbooks`, `keys`, `users reset-2fa`)
are imported only when run, and `--help` lists them from the short help
given here. A command added elsewhere goes into a `lazy` table below.
"""

from __future__ import annotations

import importlib
import os
import sys

import click
from flask.cli import ScriptInfo, with_appcontext


def _create_app():
    from crisis import create_app
    from crisis.core.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:  # the message says what to set; a traceback would only hide it
        click.echo(str(error), err=True)
        raise SystemExit(2) from None


class _LazyDb:
    """`db` (crisis.core.db), imported when a command first touches it."""

    def __getattr__(self, name):
        from crisis.core.db import db as real

        return getattr(real, name)


db = _LazyDb()


class LazyGroup(click.Group):
    """A group whose subcommands in `lazy` ({name: ("module:attribute", short help)}) are imported
    only when run."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            module, attribute = self.lazy[name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][1]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class CrisisGroup(LazyGroup):
    """The top group: commands that need the app get it from a ScriptInfo (as Flask's CLI does),
    built when first asked for, never for `--help`."""

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None and extra.get("obj") is None:
            extra["obj"] = ScriptInfo(create_app=_create_app, set_debug_flag=False)
        return super().make_context(info_name, args, parent=parent, **extra)


@click.group(cls=CrisisGroup, lazy={
    "playbooks": ("crisis.playbooks.commands:playbooks_cli",
                  "Validate, show and simulate crisis playbooks (the city's crisis plan as data)."),
    "keys": ("crisis.keys_cli:keys_cli", "Encryption keys of the sensitive columns (ENCRYPTION_KEYS)."),
    "push": ("crisis.push.vapid:push_cli", "Web Push alerts: print a new VAPID key pair (`crisis push keys`)."),
    "org": ("crisis.orgadmin.commands:org_cli",
            "The city's organisation as data: validate and apply a city's YAML file."),
})
def main() -> None:
    """Crisis-response coordination: support to relatives after shootings and lethal violence."""


# -- database ---------------------------------------------------------------


@main.group("db")
def db_cli() -> None:
    """Database schema (Alembic migrations)."""


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@click.option("--verbose", "-v", is_flag=True, help="Also show what Alembic does, step by step.")
@with_appcontext
def db_upgrade(revision: str, verbose: bool) -> None:
    """Create or update the schema to REVISION (default: head): one line per migration applied."""
    import logging

    from crisis.core import migrate

    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    applied = migrate.upgrade(db.engine, revision)
    for number, title in applied:
        click.echo(f"Applied {number}: {title}")
    if not applied:
        click.echo("Database up to date.")
    if verbose:
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
    from crisis.models import Base

    diff = migrate.schema_differences(db.engine, Base.metadata)
    for item in diff:
        click.echo(repr(item))
    if diff:
        click.echo(f"{len(diff)} difference(s) between the models and the database "
                   f"({db.dialect}): run `crisis db upgrade`, or write a migration.", err=True)
        sys.exit(1)
    click.echo(f"Models and database agree ({db.dialect}).")


# -- users and tokens ---------------------------------------------------------


@main.group("users", cls=LazyGroup, lazy={
    "reset-2fa": ("crisis.auth.twofactor:reset_two_factor_command",
                  "Remove a user's two-factor login (a lost phone); they enrol again."),
    "list": ("crisis.staff.commands:users_list", "Staff accounts: id, e-mail, roles, district, active."),
    "invite": ("crisis.staff.commands:users_invite", "Invite a member of staff: a one-time link to set a password."),
    "deactivate": ("crisis.staff.commands:users_deactivate", "Deactivate a member of staff (ends sessions and tokens)."),
    "reactivate": ("crisis.staff.commands:users_reactivate", "Reactivate a deactivated member of staff."),
    "reset-password": ("crisis.staff.commands:users_reset_password", "A one-time link to set a new password."),
    "unlock": ("crisis.auth.throttle:unlock_command", "Clear the wait after wrong passwords at once."),
})
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
            raise click.UsageError(f"No district with code {district_code!r}; apply the city's organisation "
                                   "file first (`crisis org apply organisation/<city>.yaml`).")
    try:
        user = create_user(db.session, email=email, roles=list(roles), name=name,
                           password=password, phone=phone, district_id=district_id)
    except AccountError as exc:
        db.session.rollback()
        raise click.UsageError(str(exc)) from None
    db.session.commit()
    click.echo(f"Created user {user.id} {user.email} ({', '.join(sorted(r.value for r in user.roles))}).")


@main.group("tokens", cls=LazyGroup, lazy={
    "list": ("crisis.staff.commands:tokens_list", "A user's API tokens: name, created, last used, expiry."),
    "revoke": ("crisis.staff.commands:tokens_revoke", "Revoke an API token."),
})
def tokens_cli() -> None:
    """API bearer tokens."""


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@click.option("--days", type=click.IntRange(1, 3650), help="Expire after this many days (default 90).")
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
    from flask import current_app

    from crisis.demo import load_demo

    if current_app.config.get("CRISIS_ENV") == "production":
        click.echo("Refusing to load demo data with CRISIS_ENV=production: demo staff have published "
                   "passwords. Set up a real city with `crisis org apply` and `crisis users create` "
                   "(README, \"Going live\").", err=True)
        sys.exit(1)
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

