"""`crisis users list|invite|deactivate|reactivate|reset-password` and `crisis tokens list|revoke`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

ACTOR = "admin-cli"


def _user(email: str):
    from crisis.auth.models import User
    from crisis.core.db import db

    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.UsageError(f"No user with e-mail {email}.")
    return user


def _run(change):
    """Run `change()` and commit, or roll back and say what to fix (exit 2)."""
    from crisis.core.db import db
    from crisis.staff.services import StaffError

    try:
        result = change()
    except StaffError as error:
        db.session.rollback()
        raise click.UsageError(str(error)) from None
    db.session.commit()
    return result


@click.command("list")
@click.option("--search", "q", default=None, help="Part of a name or e-mail.")
@with_appcontext
def users_list(q):
    """Staff accounts: id, e-mail, roles, district, active."""
    from crisis.core.db import db
    from crisis.staff.services import search_staff

    for user in search_staff(db.session, q):
        roles = ",".join(sorted(r.value for r in user.roles))
        district = user.district.code if user.district else "-"
        state = "active" if user.active else "deactivated"
        password = "" if user.password_hash else " (no password yet)"
        click.echo(f"{user.id:>5}  {user.email:40} {roles:28} {district:22} {state}{password}")


@click.command("invite")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, help="coordinator, outreach, manager or admin.")
@click.option("--name", help="Display name.")
@click.option("--phone", help="Mobile number, e.g. +46701234567.")
@click.option("--district", "district_code", help="District code, e.g. farsta.")
@click.option("--language", type=click.Choice(["sv", "en"]), default="sv")
@click.option("--sms", "send_sms", is_flag=True, help="Also send the link by SMS to --phone.")
@with_appcontext
def users_invite(email, roles, name, phone, district_code, language, send_sms):
    """Create an account without a password and print a one-time link (24 h) to choose one."""
    from crisis.core.db import db
    from crisis.staff.services import invite_user

    user, link = _run(lambda: invite_user(db.session, actor=ACTOR, email=email, roles=list(roles), name=name,
                                          phone=phone, district=district_code, language=language,
                                          send_sms=send_sms))
    click.echo(f"Invited user {user.id} {user.email}. One-time link, valid 24 hours:")
    click.echo(link.url)


@click.command("deactivate")
@click.argument("email")
@with_appcontext
def users_deactivate(email):
    """Deactivate EMAIL: sessions, sockets and API tokens end at once."""
    from crisis.core.db import db
    from crisis.staff.services import announce_sessions_ended, deactivate

    user = _user(email)
    _run(lambda: deactivate(db.session, user, actor=ACTOR))
    announce_sessions_ended(user.id)
    click.echo(f"Deactivated user {user.id}.")


@click.command("reactivate")
@click.argument("email")
@with_appcontext
def users_reactivate(email):
    """Let EMAIL log in again (old API tokens stay revoked)."""
    from crisis.core.db import db
    from crisis.staff.services import reactivate

    user = _user(email)
    _run(lambda: reactivate(db.session, user, actor=ACTOR))
    click.echo(f"Reactivated user {user.id}.")


@click.command("reset-password")
@click.argument("email")
@with_appcontext
def users_reset_password(email):
    """End EMAIL's password and sessions and print a one-time link (24 h) to choose a new one."""
    from crisis.core.db import db
    from crisis.staff.services import reset_password

    user = _user(email)
    link = _run(lambda: reset_password(db.session, user, actor=ACTOR))
    click.echo(f"Password of user {user.id} reset. One-time link, valid 24 hours:")
    click.echo(link.url)


@click.command("list")
@click.argument("email", required=False)
@click.option("--all", "include_ended", is_flag=True, help="Also revoked tokens.")
@with_appcontext
def tokens_list(email, include_ended):
    """API tokens (of EMAIL, or everyone's): id, name, created, last used, expiry."""
    from crisis.auth.models import ApiToken
    from crisis.core.db import db

    query = select(ApiToken).order_by(ApiToken.id)
    if email:
        query = query.where(ApiToken.user_id == _user(email).id)
    if not include_ended:
        query = query.where(ApiToken.revoked_at.is_(None))

    def day(value):
        return value.strftime("%Y-%m-%d") if value else "-"

    for token in db.session.scalars(query):
        state = "revoked" if token.revoked_at else ""
        click.echo(f"{token.id:>5}  {token.user.email:36} {token.prefix}…  {token.name or '-':20} "
                   f"created {day(token.created_at)}  used {day(token.last_used_at)}  "
                   f"expires {day(token.expires_at)} {state}".rstrip())


@click.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id):
    """Revoke the token with id TOKEN_ID (see `crisis tokens list`)."""
    from crisis.auth.models import ApiToken
    from crisis.core.db import db
    from crisis.staff.services import revoke

    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.UsageError(f"No token with id {token_id}.")
    changed = _run(lambda: revoke(db.session, token, actor=ACTOR))
    click.echo(f"Token {token_id} revoked." if changed else f"Token {token_id} was already revoked.")


def register(users_cli, tokens_cli) -> None:
    users_cli.add_command(users_list)
    users_cli.add_command(users_invite)
    users_cli.add_command(users_deactivate)
    users_cli.add_command(users_reactivate)
    users_cli.add_command(users_reset_password)
    tokens_cli.add_command(tokens_list)
    tokens_cli.add_command(tokens_revoke)
