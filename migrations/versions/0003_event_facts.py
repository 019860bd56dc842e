"""timeline events keep their facts: backfill what old events' data lacks

Events are now rendered from `type` + `data` when read (crisis.eventtext.render).
Events written before that carried the id of what they concern only as the
subject (`subject_type`, `subject_id`); this copies it into `data` under the
key the renderers read (`task_id`, `relative_id`, ...). A staff member's STOP
or START was recorded as `sms.opted_out` / `sms.opted_in` of kind "message";
it becomes `user.opted_out` / `user.opted_in` of kind "staff" with the staff
member as subject, as new ones are. No schema change.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# subject_type -> the data key the renderers read
SUBJECT_KEYS = {
    "task": "task_id",
    "relative": "relative_id",
    "user": "user_id",
    "dispatch": "dispatch_id",
    "person": "person_id",
    "message": "message_id",
    "followup": "follow_up_id",
}

events = sa.table(
    "timeline_events",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("type", sa.String),
    sa.column("subject_type", sa.String),
    sa.column("subject_id", sa.Integer),
    sa.column("data", sa.JSON),
)

BATCH = 1000


def upgrade() -> None:
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(events.c.id, events.c.kind, events.c.type, events.c.subject_type, events.c.subject_id,
                      events.c.data)
            .where(events.c.id > last_id).order_by(events.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        for row in rows:
            data = dict(row.data) if isinstance(row.data, dict) else {}
            values = {}
            key = SUBJECT_KEYS.get(row.subject_type or "")
            if key and row.subject_id is not None and data.get(key) is None:
                data[key] = row.subject_id
            if row.type in ("sms.opted_out", "sms.opted_in") and data.get("user_id") is not None:
                values.update(type="user." + row.type.split(".", 1)[1], kind="staff",
                              subject_type="user", subject_id=data["user_id"])
                data = {"user_id": data["user_id"]}
            if data != (row.data if isinstance(row.data, dict) else {}):
                values["data"] = data
            if values:
                connection.execute(sa.update(events).where(events.c.id == row.id).values(**values))


def downgrade() -> None:
    # The added keys are harmless to older code; only the renamed staff events go back.
    connection = op.get_bind()
    for new, old in (("user.opted_out", "sms.opted_out"), ("user.opted_in", "sms.opted_in")):
        connection.execute(sa.update(events).where(events.c.type == new)
                           .values(type=old, kind="message", subject_type=None, subject_id=None))
