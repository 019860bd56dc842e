"""security round two (issue 14): server-side sessions, encrypted TOTP secrets and free text

- `auth_sessions`: the server's record of each login (logout ends it for good).
- `users.totp_secret`, `incidents.place`, `incidents.police_reference`,
  `access_log.reason`: encrypted text.
- `tasks.title`, `tasks.description`, `timeline_events.data`: encrypted JSON.

Existing rows are encrypted with the newest key of ENCRYPTION_KEYS.

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = "0003"
branch_labels = None
depends_on = None

PREFIX = "enc1:"
# (table, column, old type, is JSON)
COLUMNS = [
    ("users", "totp_secret", sa.String(length=64), False),
    ("incidents", "place", sa.String(length=200), False),
    ("incidents", "police_reference", sa.String(length=64), False),
    ("access_log", "reason", sa.String(length=300), False),
    ("tasks", "title", sa.JSON(), True),
    ("tasks", "description", sa.JSON(), True),
    ("timeline_events", "data", sa.JSON(), True),
]


def _keyring():
    from crisis.core.crypto import keyring

    if not keyring.configured:
        from crisis.core.config import load_settings

        settings = load_settings()
        keyring.configure(settings.encryption_keys, settings.secret_key)
    return keyring


def _convert(encrypt: bool) -> None:
    """Encrypt (upgrade) or decrypt (downgrade) every stored value of COLUMNS, row by row."""
    bind = op.get_bind()
    ring = None
    for table, column, _old, is_json in COLUMNS:
        rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")).all()
        for row_id, value in rows:
            if encrypt:
                if isinstance(value, str) and value.startswith(PREFIX):
                    continue
                if is_json and not isinstance(value, str):
                    value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                ring = ring or _keyring()
                new = ring.encrypt(value)
            else:
                if not (isinstance(value, str) and value.startswith(PREFIX)):
                    continue
                ring = ring or _keyring()
                new = ring.decrypt(value)
            bind.execute(sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                         {"value": new, "id": row_id})


def upgrade() -> None:
    op.create_table('auth_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('failed_codes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_auth_sessions_key_hash'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('export_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('relative_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_export_requests_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['relative_id'], ['relatives.id'], name=op.f('fk_export_requests_relative_id_relatives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_export_requests_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_requests'))
    )
    with op.batch_alter_table('export_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_requests_relative_id'), ['relative_id'], unique=False)

    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attribution', sa.String(length=20), nullable=True))
    with op.batch_alter_table('incident_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via_dispatch_id', sa.Integer(), nullable=True))

    for table, column, old, is_json in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            extra = {"postgresql_using": f"{column}::text"} if is_json else {}
            batch_op.alter_column(column, existing_type=old, type_=sa.Text(), **extra)
    _convert(encrypt=True)


def downgrade() -> None:
    _convert(encrypt=False)
    for table, column, old, is_json in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            extra = {"postgresql_using": f"{column}::json"} if is_json else {}
            batch_op.alter_column(column, existing_type=sa.Text(), type_=old, **extra)

    op.drop_table('login_throttles')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('attribution')
    with op.batch_alter_table('incident_assignments', schema=None) as batch_op:
        batch_op.drop_column('via_dispatch_id')
    with op.batch_alter_table('export_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_requests_relative_id'))
    op.drop_table('export_requests')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_user_id'))
    op.drop_table('auth_sessions')
