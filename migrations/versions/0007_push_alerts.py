"""push alerts: subscriptions per user and device, dispatch alerts sent by push (issue 16)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("endpoint_hash", sa.String(length=64), nullable=False),
        sa.Column("p256dh", sa.Text(), nullable=False),
        sa.Column("auth", sa.Text(), nullable=False),
        sa.Column("device_label", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.String(length=40), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_push_subscriptions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint_hash", name=op.f("uq_push_subscriptions_endpoint_hash")),
    )
    with op.batch_alter_table("push_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_subscriptions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "push_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispatch_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("status", sa.Enum("pending", "sending", "sent", "failed", name="push_alert_status",
                                    native_enum=False, create_constraint=True), nullable=False),
        sa.Column("sms_held_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_token_hash", sa.String(length=64), nullable=True),
        sa.Column("ack_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("sms_saved", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_via", sa.String(length=10), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dispatch_id"], ["dispatches.id"], name=op.f("fk_push_alerts_dispatch_id_dispatches"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_push_alerts_message_id_messages"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_push_alerts_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_alerts")),
        sa.UniqueConstraint("ack_token_hash", name=op.f("uq_push_alerts_ack_token_hash")),
    )
    with op.batch_alter_table("push_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_alerts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_push_alerts_dispatch_id"), ["dispatch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_push_alerts_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_push_alerts_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("push_alerts", schema=None) as batch_op:
        for name in ("user_id", "status", "dispatch_id", "created_at"):
            batch_op.drop_index(batch_op.f(f"ix_push_alerts_{name}"))
    op.drop_table("push_alerts")
    with op.batch_alter_table("push_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_subscriptions_user_id"))
    op.drop_table("push_subscriptions")
