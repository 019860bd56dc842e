"""The `crisis` console script."""

from sqlalchemy import func, select

from crisis.auth.models import User
from crisis.cli import main
from crisis.organisation.models import District, Team
from crisis.referrals.models import SupportOrganisation


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_users_create_with_roles_and_phone(app, session):
    result = invoke(app, "users", "create", "Ny@Example.se", "--role", "coordinator", "--role",
                    "manager", "--password", "long enough password", "--name", "Ny Person",
                    "--phone", "070-174 06 50")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "ny@example.se"))
    assert {r.value for r in user.roles} == {"coordinator", "manager"}
    assert user.phone == "+46701740650"


def test_users_create_refuses_unknown_role_and_short_password(app):
    bad_role = invoke(app, "users", "create", "a@example.se", "--role", "boss", "--password", "x" * 12)
    assert bad_role.exit_code == 2
    assert "Okänd roll 'boss'" in bad_role.output  # Swedish first, also on the command line
    short = invoke(app, "users", "create", "a@example.se", "--role", "outreach", "--password", "short")
    assert short.exit_code == 2
    assert "minst 10 tecken" in short.output


def test_users_create_refuses_duplicate(app, create_user):
    create_user("outreach", email="dup@example.se")
    result = invoke(app, "users", "create", "dup@example.se", "--role", "outreach", "--password", "x" * 12)
    assert result.exit_code == 2
    assert "Det finns redan en användare" in result.output


def test_users_create_prompts_for_password(app, session):
    result = invoke(app, "users", "create", "p@example.se", "--role", "outreach",
                    input="prompted password\nprompted password\n")
    assert result.exit_code == 0, result.output


def test_tokens_create_prints_a_working_token(app, client, create_user):
    user = create_user("manager")
    result = invoke(app, "tokens", "create", user.email, "--name", "rapporter")
    assert result.exit_code == 0
    token = result.output.strip()
    assert token.startswith("crs_")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.json["email"] == user.email


def test_tokens_create_for_unknown_user(app):
    result = invoke(app, "tokens", "create", "ghost@example.se")
    assert result.exit_code == 2
    assert "No user" in result.output


def _counts(session):
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (District, User, Team, SupportOrganisation))


def test_demo_loads_stockholm_and_is_idempotent(app, session):
    first = invoke(app, "demo")
    assert first.exit_code == 0
    assert "samordnare@demo.crisis.se" in first.output
    counts = _counts(session)
    assert counts[0] == 13
    second = invoke(app, "demo")
    assert "nothing changed" in second.output
    assert _counts(session) == counts
    sodermalm = session.scalar(select(District).where(District.code == "sodermalm"))
    assert not sodermalm.has_own_sig and sodermalm.sig_district.has_own_sig
    sig = {d.name for d in session.scalars(select(District).where(District.has_own_sig))}
    assert sig == {"Enskede-Årsta-Vantör", "Farsta", "Hässelby-Vällingby", "Rinkeby-Kista",
                   "Skarpnäck", "Skärholmen", "Spånga-Tensta"}


def test_demo_user_can_log_in(app, client, session):
    from tests.conftest import login

    invoke(app, "demo")
    assert login(client, "samordnare@demo.crisis.se", "demo-samordnare").status_code == 302


def test_db_upgrade_is_repeatable(app):
    result = invoke(app, "db", "upgrade", "--verbose")
    assert result.exit_code == 0
    assert "Database at head" in result.output


def test_db_upgrade_says_up_to_date_in_one_line(app):
    result = invoke(app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert result.output == "Database up to date.\n"


def test_db_upgrade_prints_one_line_per_migration_applied(tmp_path, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    result = CliRunner().invoke(main, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Applied 0001: initial schema"
    assert all(line.startswith("Applied ") for line in lines) and len(lines) >= 2


def test_help_and_playbook_validation_import_no_web_app_or_database():
    """What keeps `crisis --help` and `crisis playbooks validate` fast (bench/cli_startup.py)."""
    import subprocess
    import sys

    probe = ("import sys\nfrom crisis.cli import main\n"
             "for args in (['--help'], ['playbooks', 'validate']):\n"
             "    try:\n        main(args)\n    except SystemExit as exit:\n        assert not exit.code, exit\n"
             "heavy = [m for m in ('crisis.app', 'sqlalchemy', 'flask_socketio', 'crisis.core.db') "
             "if m in sys.modules]\n"
             "print('HEAVY', heavy)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_db_check_says_in_one_line_that_models_and_database_agree(tmp_path, monkeypatch):
    """Only the answer, not Alembic's step-by-step log lines (those are for `db upgrade --verbose`)."""
    import logging

    from click.testing import CliRunner

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'check.sqlite3'}")
    assert CliRunner().invoke(main, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    result = CliRunner().invoke(main, ["db", "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == "Models and database agree (sqlite).\n"
    assert logging.getLogger("alembic").getEffectiveLevel() >= logging.WARNING
