"""Every event type the product emits reads as a sentence in Swedish and in English,
naming things as people know them (crisis.eventtext.render)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from crisis.eventtext.render import RENDERERS, Ev, fallback, render

ROOT = Path(__file__).resolve().parents[2]

# Internal ids as the old summaries showed them ("Task 40", "staff 6", "team 2", "SMS 12").
ID_PATTERN = re.compile(r"\b(?:task|staff|team|dispatch|sms|follow-up|uppgift|personal|coordinator|"
                        r"samordnare|message|user)\s+#?\d+\b", re.I)
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def readable(text: str) -> None:
    assert text and "%(" not in text, text
    assert not ID_PATTERN.search(text), text
    assert not SNAKE.search(text), text


@dataclass
class World:
    incident: object
    relative: object
    person: object
    coordinator: object
    worker: object
    team: object
    task: object
    follow_up: object
    message: object
    organisation: object


@pytest.fixture
def world(session, activate, response_setup) -> World:
    from crisis.followups.models import FollowUp
    from crisis.incidents.services import add_person, add_relative, record_consent
    from crisis.messaging.services import queue_sms_to_relative
    from crisis.referrals.models import SupportOrganisation
    from crisis.tasks.models import Task

    coordinator = response_setup["coordinator"]
    incident = activate()
    person = add_person(session, incident, actor=coordinator, outcome="injured")
    relative = add_relative(session, incident, actor=coordinator, relation="sibling", phone="+46701112299")
    record_consent(session, relative, actor=coordinator, state="given", scope=["contact", "sms", "referral"])
    organisation = SupportOrganisation(code="forsta-linjen", name="Första linjen", kind="health_care")
    session.add(organisation)
    message = queue_sms_to_relative(session, relative, body="Hej", purpose="followup_reminder")
    session.commit()
    task = session.scalars(select(Task).where(Task.incident_id == incident.id).order_by(Task.id)).first()
    follow_up = session.scalars(select(FollowUp).where(FollowUp.relative_id == relative.id)).first()
    return World(incident, relative, person, coordinator, response_setup["workers"][0], response_setup["team"],
                 task, follow_up, message, organisation)


def samples(w: World) -> dict[str, dict]:
    """Data as the services record it, for every type with a renderer."""
    due = "2026-12-02T09:30:00+00:00"
    dispatch = {"dispatch_id": 1, "ref": f"{w.incident.reference}-1", "purpose": "visit", "team_id": w.team.id,
                "user_id": None, "task_id": w.task.id, "status": "pending", "level": 0, "ack_deadline_at": due}
    follow_up = {"follow_up_id": w.follow_up.id if w.follow_up else None, "relative_id": w.relative.id,
                 "label": "1w"}
    return {
        "incident.activated": {"reference": w.incident.reference, "type": "shooting",
                               "district_id": w.incident.district_id, "outcome": "injured",
                               "threat_level": "normal", "playbook": "stockholm-skjutning", "playbook_version": 1},
        "incident.updated": {"death_at": {"before": None, "after": due},
                             "threat_level": {"before": "normal", "after": "high"}},
        "incident.plan_applied": {"reason": "facts:death_at,funeral_at", "created": ["a", "b"],
                                  "cancelled": ["c"], "followups_created": ["d"]},
        "incident.anonymised": {"counts": {"relatives": 2}, "retention_days": 365},
        "incident.contact_details_removed": {"counts": {"phones": 2}, "retention_days": 90},
        "person.added": {"person_id": w.person.id, "outcome": "deceased"},
        "person.case_worker_set": {"person_id": w.person.id, "case_worker_id": w.worker.id},
        "relative.added": {"relative_id": w.relative.id, "relation": "sibling", "is_child": True, "language": "ar",
                           "interpreter_needed": True, "protected_identity": False},
        "relative.contact_person_set": {"relative_id": w.relative.id, "before": None, "after": w.worker.id},
        "relative.consent_recorded": {"relative_id": w.relative.id, "before": "unknown", "after": "given",
                                      "scope": ["contact", "share_with_school"], "method": "verbal"},
        "relative.first_contact": {"relative_id": w.relative.id, "at": due},
        "relative.referred": {"relative_id": w.relative.id, "organisation": "forsta-linjen", "referral_id": 1},
        "relative.data_subject_export": {"relative_id": w.relative.id},
        "task.created": {"task_id": w.task.id, "category": "practical_help"},
        "task.status_changed": {"task_id": w.task.id, "step_id": "x", "status": {"before": "open",
                                                                                  "after": "in_progress"}},
        "task.updated": {"task_id": w.task.id, "checklist": {"before": [False, False], "after": [True, False]},
                         "note": "changed", "owner_user_id": {"before": None, "after": w.worker.id},
                         "due_at": {"before": None, "after": due}},
        "task.overdue_escalated": {"task_id": w.task.id, "due_at": due, "notified_user_ids": [w.coordinator.id],
                                   "notified_roles": ["coordinator"], "not_sent": []},
        "dispatch.created": {**dispatch, "alerted": [w.worker.id], "message_ids": [1], "no_sms": {},
                             "skipped": []},
        "dispatch.escalated": {**dispatch, "alerted": [w.coordinator.id], "reason": "no_acknowledgement",
                               "target": "coordinator", "skipped": []},
        "dispatch.exhausted": {**dispatch, "reason": "nobody_reachable", "from_level": 1, "skipped": []},
        "dispatch.alert_failed": {**dispatch, "message_id": 1, "status": "undelivered", "error_code": "30003",
                                  "user_id": w.worker.id},
        "dispatch.acknowledged": {**dispatch, "acknowledged_by": w.worker.id, "via": "sms", "seconds_to_ack": 240},
        "dispatch.cancelled": dispatch,
        "message.queued": {"message_id": w.message.id, "relative_id": w.relative.id,
                           "purpose": "followup_reminder"},
        **{f"message.{status}": {"message_id": w.message.id, "purpose": "followup_reminder", "status": status,
                                 "error_code": "30005" if status == "failed" else None, "dispatch_id": None}
           for status in ("sent", "delivered", "undelivered", "failed", "expired")},
        "message.received": {"message_id": w.message.id, "intent": "other"},
        "sms.opted_out": {"keyword": "STOPP", "source": "sms", "relative_id": w.relative.id},
        "sms.opted_in": {"keyword": "START", "source": "sms", "relative_id": w.relative.id},
        "user.opted_out": {"user_id": w.worker.id},
        "user.opted_in": {"user_id": w.worker.id},
        "push.subscribed": {"user_id": w.worker.id, "subscription_id": 1},
        "push.unsubscribed": {"user_id": w.worker.id, "subscription_id": 1},
        "push.removed": {"user_id": w.worker.id, "subscription_id": 1, "status": 410},
        "followup.reached": {**follow_up, "outcome": "reached", "channel": "phone"},
        "followup.not_reached": {**follow_up, "outcome": "not_reached", "retry_due_at": due},
        "followup.declined": {**follow_up, "outcome": "declined", "decline_reason": "support_elsewhere",
                              "cancelled_follow_up_ids": [5, 6]},
        "followup.rescheduled": {**follow_up, "reason": "interpreter_booking", "before": due, "after": due},
        "followup.overdue_escalated": {**follow_up, "due_at": due, "acute": False,
                                       "notified_user_ids": [w.coordinator.id]},
        "followup.reminder_sent": {**follow_up, "recipient_user_id": w.worker.id, "message_id": 1, "due_at": due},
        "followup.reminder_not_sent": {"follow_up_id": follow_up["follow_up_id"], "reason": "opted_out",
                                       "recipient_user_id": w.worker.id},
        "followup.reminder_given_up": {"follow_up_id": follow_up["follow_up_id"], "attempts": 5,
                                       "reason": "claims_went_stale"},
        "scheduler.stale_claims_released": {"follow_up_ids": [1, 2], "count": 2},
        "user.deactivated": {"user_id": w.worker.id},
        "user.availability_changed": {"user_id": w.worker.id, "before": "available", "after": "off_duty"},
        "user.two_factor_enrolled": {"user_id": w.coordinator.id, "recovery_codes": 10},
        "user.two_factor_removed": {"user_id": w.coordinator.id, "reason": "lost phone"},
        "user.recovery_codes_issued": {"user_id": w.coordinator.id, "recovery_codes": 10},
        "user.recovery_code_used": {"user_id": w.coordinator.id, "left": 9},
        "user.morning_summary_sent": {"user_id": w.coordinator.id, "date": "2026-12-01", "count_open": 3,
                                      "count_overdue": 1, "count_followups": 2, "message_id": 1},
        "retention.swept": {"incidents_anonymised": 1, "contact_details_removed": 2, "counts": {}},
        # issue 12: staff administration, tokens, organisation, on-call
        "user.invited": {"user_id": w.worker.id, "roles": ["coordinator", "outreach"],
                         "district_id": w.incident.district_id, "sent_by_sms": True},
        "user.updated": {"user_id": w.worker.id, "changed": ["roles", "district", "phone", "language", "name"],
                         "roles": ["outreach"], "district_id": w.incident.district_id, "language": "en"},
        "user.reactivated": {"user_id": w.worker.id},
        "user.password_reset": {"user_id": w.worker.id},
        "user.password_changed": {"user_id": w.worker.id},
        "user.password_set": {"user_id": w.worker.id, "via": "invite"},
        "user.sessions_ended": {"user_id": w.worker.id, "reason": "password_reset"},
        "user.login_unlocked": {"user_id": w.worker.id, "address_cleared": True},
        "user.calendar_feed_created": {"user_id": w.worker.id},
        "user.calendar_feed_revoked": {"user_id": w.worker.id},
        "token.revoked": {"token_id": 3, "user_id": w.worker.id},
        "team.members_changed": {"team_id": w.team.id, "before": [w.coordinator.id], "after": [w.worker.id]},
        "oncall.rota_saved": {"team_id": w.team.id, "starts_on": "2026-12-07", "cycle_days": 7,
                              "shifts": [[0, 720, w.worker.id], [720, 10080, w.coordinator.id]]},
        "oncall.override_added": {"team_id": w.team.id, "override_id": 1, "user_id": w.worker.id,
                                  "reason": "sick_leave", "starts_at": due, "ends_at": "2026-12-03T09:30:00+00:00"},
        "oncall.override_removed": {"team_id": w.team.id, "override_id": 1, "user_id": w.worker.id},
        "organisation.applied": {"city": "Stockholm", "file": "stockholm.yaml", "changes": 3},
        "dispatch.coordinator_alerted": {**dispatch, "alerted": [w.coordinator.id], "message_ids": [2], "no_sms": {},
                                         "reason": "on_call_opted_out", "unreachable_user_id": w.worker.id},
        # issue 14: access withdrawn after acknowledgement, two-person export
        "dispatch.access_withdrawn": {"dispatch_id": 1, "acknowledged_by": w.worker.id,
                                      "user_ids": [w.coordinator.id]},
        "relative.export_requested": {"relative_id": w.relative.id, "request_id": 1},
        "relative.export_approved": {"relative_id": w.relative.id, "request_id": 1},
        # issue 18: withdrawal, the visit follows the acknowledger
        "incident.withdrawn": {"reference": w.incident.reference, "reason": "Aktiverad av misstag",
                               "cancelled": {"tasks": 4, "follow_ups": 1, "dispatches": 0}},
        "task.reassigned": {"task_id": w.task.id, "step_id": "x", "dispatch_id": 1,
                            "owner_user_id": {"before": w.coordinator.id, "after": w.worker.id},
                            "reason": "dispatch_acknowledged"},
    }


def emitted_types() -> set[str]:
    """Event types written by the product's code (literals, and the f-string families)."""
    found: set[str] = set()
    for path in (ROOT / "crisis").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "record_event(" not in text:
            continue
        found |= set(re.findall(r'type="([a-z_]+\.[a-z_]+)"', text))
        found |= set(re.findall(r'"((?:task|sms|user)\.[a-z_]+)" if ', text))
        found |= set(re.findall(r' else "((?:task|sms|user)\.[a-z_]+)"', text))
    from crisis.followups.services import FollowUpOutcome
    from crisis.messaging.services import FINAL_STATUSES

    found |= {f"followup.{o.value}" for o in FollowUpOutcome}  # type=f"followup.{result.value}"
    found |= {f"message.{s.value}" for s in FINAL_STATUSES}  # type=f"message.{status.value}"
    return found


def test_every_emitted_event_type_has_a_renderer():
    emitted = emitted_types()
    assert {"task.status_changed", "task.updated", "sms.opted_out", "user.opted_in", "dispatch.created"} <= emitted
    assert emitted - set(RENDERERS) == set()


def test_every_renderer_has_a_sample(app, world):
    assert set(RENDERERS) - set(samples(world)) == set()


@pytest.mark.parametrize("event_type", sorted(RENDERERS))
def test_event_type_renders_in_swedish_and_english(app, session, world, event_type):
    data = samples(world)[event_type]
    ev = Ev(type=event_type, kind=event_type.split(".")[0], data=data, incident_id=world.incident.id)
    with app.app_context():
        sv, en = render(ev, "sv", session), render(ev, "en", session)
        neutral = {fallback_text(app, ev, lang) for lang in ("sv", "en")}
    for text in (sv, en):
        readable(text)
        assert text not in neutral  # a real sentence, not the neutral fallback
    assert sv != en or event_type == "person.added"
    assert world.relative.phone not in sv + en


def fallback_text(app, ev: Ev, language: str) -> str:
    from flask_babel import force_locale

    with force_locale(language):
        return fallback(ev)


def test_sentences_name_things_as_people_know_them(app, session, world):
    data = samples(world)
    with app.app_context():
        text = render(Ev("task.status_changed", "task", data["task.status_changed"]), "sv", session)
        assert world.task.title_in("sv") in text and "pågår" in text
        text = render(Ev("dispatch.created", "dispatch", data["dispatch.created"]), "sv", session)
        assert world.team.name in text and world.worker.name in text and "hembesök" in text
        text = render(Ev("relative.referred", "relative", data["relative.referred"]), "sv", session)
        assert text == f"{world.relative.label} lotsad vidare till Första linjen"
        text = render(Ev("task.overdue_escalated", "task", data["task.overdue_escalated"]), "sv", session)
        assert "2 dec. 2026 10:30" in text  # 09:30 UTC is 10:30 in Stockholm
        text = render(Ev("relative.consent_recorded", "relative", data["relative.consent_recorded"]), "en", session)
        assert "contact from social services, information to school or preschool" in text


def test_a_relative_is_never_named(app, session, world):
    world.relative.name = "Astrid Lindqvist"
    world.relative.protected_identity = True
    session.commit()
    with app.app_context():
        for event_type, data in samples(world).items():
            ev = Ev(type=event_type, kind=event_type.split(".")[0], data=data)
            assert "Lindqvist" not in render(ev, "sv", session) + render(ev, "en", session)


def test_an_unknown_type_gets_a_neutral_sentence_without_ids(app, session):
    ev = Ev(type="referral.closed_by_partner", kind="relative", data={"referral_id": 40, "user_id": 6})
    with app.app_context():
        assert render(ev, "sv", session) == "Anhöriga: Closed by partner"
        assert render(ev, "en", session) == "Relatives: Closed by partner"


def test_a_renderer_that_meets_odd_data_falls_back(app, session):
    ev = Ev(type="task.status_changed", kind="task", data={"status": "not-a-dict", "task_id": "x"})
    with app.app_context():
        text = render(ev, "sv", session)
    readable(text)


def test_new_staff_dispatch_and_withdrawal_events_name_people_and_reasons(app, session, world):
    data = samples(world)
    unreachable = {**data["dispatch.escalated"], "reason": "opted_out", "user_id": world.worker.id,
                   "team_id": None}
    with app.app_context():
        text = render(Ev("dispatch.escalated", "dispatch", unreachable), "sv", session)
        assert world.worker.name in text and world.coordinator.name in text and "har avböjt sms" in text
        text = render(Ev("dispatch.coordinator_alerted", "dispatch", data["dispatch.coordinator_alerted"]), "sv",
                      session)
        assert world.worker.name in text and "jour" in text and "har avböjt sms" in text
        text = render(Ev("task.reassigned", "task", data["task.reassigned"]), "sv", session)
        assert world.task.title_in("sv") in text and world.worker.name in text
        text = render(Ev("incident.withdrawn", "incident", data["incident.withdrawn"]), "sv", session)
        assert "4 uppgifter, 1 uppföljning" in text and "larm" not in text and "Aktiverad av misstag" in text
        text = render(Ev("oncall.override_added", "staff", data["oncall.override_added"]), "sv", session)
        assert "2 dec. 2026 10:30" in text and "sjukdom" in text
