"""Events written before rendering-at-read get what their data lacks (migration 0003)."""

import json

from sqlalchemy import create_engine, text

from crisis.core import migrate


def test_old_events_get_their_subject_ids_and_staff_stop_becomes_a_staff_event(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0001")
    rows = [
        ("task", "task.status_changed", "task", 40, {"status": {"before": "open", "after": "done"}}),
        ("relative", "relative.first_contact", "relative", 7, {"at": "2026-12-01T10:00:00+00:00"}),
        ("message", "sms.opted_out", None, None, {"keyword": "STOPP", "source": "sms", "user_id": 6}),
        ("message", "sms.opted_out", None, None, {"keyword": "STOPP", "source": "sms", "relative_id": 7}),
        ("task", "task.created", "task", 41, {"task_id": 41, "category": "outreach"}),
    ]
    with engine.begin() as conn:
        for kind, type_, subject_type, subject_id, data in rows:
            conn.execute(text("INSERT INTO timeline_events (occurred_at, actor_label, kind, type, subject_type, "
                              "subject_id, summary, data) VALUES ('2026-12-01 10:00:00', '', :k, :t, :st, :si, "
                              "'old', :d)"),
                         {"k": kind, "t": type_, "st": subject_type, "si": subject_id, "d": json.dumps(data)})
    migrate.upgrade(engine, "0003")  # later revisions encrypt `data` (0004), so read it right after the backfill
    with engine.connect() as conn:
        got = [(k, t, st, si, json.loads(d)) for k, t, st, si, d in conn.execute(text(
            "SELECT kind, type, subject_type, subject_id, data FROM timeline_events ORDER BY id"))]
    assert got[0][4] == {"status": {"before": "open", "after": "done"}, "task_id": 40}
    assert got[1][4]["relative_id"] == 7
    assert got[2] == ("staff", "user.opted_out", "user", 6, {"user_id": 6})
    assert got[3][:2] == ("message", "sms.opted_out") and got[3][4]["relative_id"] == 7
    assert got[4][4] == {"task_id": 41, "category": "outreach"}
    migrate.upgrade(engine)  # and the backfilled rows go through the later migrations
