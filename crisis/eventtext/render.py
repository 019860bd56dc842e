"""Timeline events in words, in the reader's language, when they are read.

An event stores facts: its `type` ("task.status_changed") and `data` (ids,
codes, values). Its stored `summary` is not the truth and is not shown. One
renderer per type turns the facts into a sentence in Swedish or English,
naming things as people know them: a task by its title from the pinned
playbook, staff by name, teams and districts by name, statuses and categories
in words (crisis.core.labels), times in Stockholm local time. Relatives
appear by their label ("Anhörig 2"); never by name, so a protected identity
never shows either.

The incident timeline page, the live feed (socket payloads and the feed
fragment), the CSV and PDF exports and the API all go through `render` /
`render_events` here.

Adding a renderer for a new event type is one function in this module (or in
any module imported at start-up):

    @renderer("referral.closed")
    def _referral_closed(ev: Ev, n: Names) -> str:
        return _("Referral of %(label)s closed", label=n.relative(ev.get("relative_id")))

`ev.data` is a plain dict (ev.get(key) reads it); `n` looks up names by id.
Use `_()` with English msgids and add the Swedish to messages.po. A type
without a renderer still renders, as a neutral sentence (the kind in words and
the type humanised), never as ids; a renderer that fails on odd data falls
back the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, load_only
from sqlalchemy.orm.util import identity_key

from crisis.core.labels import humanise, label, labels
from crisis.referrals.labels import organisation_name

log = logging.getLogger(__name__)

LANGUAGES = ("sv", "en")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
_language: ContextVar[str] = ContextVar("timeline_render_language", default="sv")


@dataclass(frozen=True)
class Ev:
    """The facts of one event, as a renderer sees them (no ORM object needed)."""

    type: str
    kind: str
    data: dict
    subject_type: str | None = None
    subject_id: int | None = None
    incident_id: int | None = None

    def get(self, key, default=None):
        return self.data.get(key, default)

    @classmethod
    def of(cls, event) -> Ev:
        data = event.data if isinstance(event.data, dict) else {}
        return cls(type=event.type or "", kind=event.kind or "", data=data, subject_type=event.subject_type,
                   subject_id=event.subject_id, incident_id=event.incident_id)


Renderer = Callable[[Ev, "Names"], str]
RENDERERS: dict[str, Renderer] = {}


def renderer(*types: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        for type_ in types:
            RENDERERS[type_] = fn
        return fn
    return register


# What `Names.prefetch` looks up ahead, by the event data keys the renderers read it from:
# {kind of name: (keys holding one id, keys holding a list of ids)}; an event's subject counts too.
PREFETCHED = {"relative": (("relative_id",), ()), "task": (("task_id",), ()),
              "user": (("user_id", "acknowledged_by"), ("alerted", "user_ids")), "team": (("team_id",), ())}


class Names:
    """What ids stand for, looked up once per id from `session` (cached).

    `holding`: a session that may already hold the rows (the one that recorded the events being
    rendered, just committed); labels it holds are read from it without a query.
    """

    def __init__(self, session: Session, language: str = "sv", holding: Session | None = None):
        self.session = session
        self.language = language if language in LANGUAGES else "sv"
        self.holding = holding
        self._cache: dict[tuple[str, object], str] = {}

    def _get(self, what: str, key, load: Callable[[], str | None], missing: Callable[[], str]) -> str:
        if key is None or key == "":
            return missing()
        cached = self._cache.get((what, key))
        if cached is None:
            try:
                cached = load()
            except Exception:  # an odd id in old data must not break a page
                log.debug("timeline: cannot look up %s %r", what, key, exc_info=True)
                cached = None
            if cached is None:
                return missing()
            self._cache[(what, key)] = cached
        return cached

    def _row(self, model, key):
        try:
            row = self.session.get(model, int(key))
        except (TypeError, ValueError):
            return None
        if row is not None:
            # Held for the session's life, as `_label` does: the next language's names (a new `Names`
            # on the same session) find it in the identity map instead of asking again.
            self.session.info.setdefault("eventtext_rows", []).append(row)
        return row

    @staticmethod
    def _held(session: Session | None, model, ident: int, column: str):
        """The row `session` already holds with `column` loaded (read without a statement), or None.
        A label or name is given when the row is made, so a held copy is the committed one."""
        if session is None:
            return None
        row = session.identity_map.get(identity_key(model, ident))
        if row is None:
            return None
        state = inspect(row)
        if state.deleted or state.was_deleted or column in state.unloaded:
            return None
        return row

    def _held_label(self, model, ident: int) -> str | None:
        """The label of a row `holding` (the session that recorded the events) has loaded."""
        row = self._held(self.holding, model, ident, "label")
        return None if row is None else row.label

    def _label(self, model, key) -> str | None:
        """`model`'s label by id: from the session if the row is loaded, else that one column
        (a relative's or person's row holds encrypted fields the label does not need decrypted)."""
        try:
            ident = int(key)
        except (TypeError, ValueError):
            return None
        held = self._held_label(model, ident)
        if held is not None:
            return held
        row = self.session.get(model, ident, options=[load_only(model.label)])
        if row is None:
            return None
        # Held for the session's life: the next language's names find it without asking again
        # (the session's identity map alone would let an unchanged row go).
        self.session.info.setdefault("eventtext_rows", []).append(row)
        return row.label

    def prefetch(self, events: Iterable[Ev]) -> None:
        """Look up the relatives, tasks, staff and teams that `events` name: one statement for each
        kind instead of one for each id (a page of a hundred events names dozens). The same names
        as asking one by one; a row the session (or `holding`) holds already is asked no statement for."""
        wanted: dict[str, set[int]] = {what: set() for what in PREFETCHED}
        for ev in events:
            for what, (one, many) in PREFETCHED.items():
                ids = [ev.data.get(key) for key in one]
                for key in many:
                    values = ev.data.get(key)
                    ids.extend(values if isinstance(values, list) else ())
                if ev.subject_type == what:
                    ids.append(ev.subject_id)
                wanted[what].update(i for i in ids if type(i) is int)
        for what, ids in wanted.items():
            model, query, column = _prefetch_query(what)
            missing = []
            for ident in ids:
                if (what, ident) in self._cache:
                    continue
                row = (self._held(self.holding, model, ident, column) if what == "relative" else None) \
                    or self._held(self.session, model, ident, column)
                name = None if row is None else self._name(what, row)
                if name is None:
                    missing.append(ident)
                else:
                    self._cache[(what, ident)] = name  # from a row a session holds already
            if not missing:
                continue
            if what in ("relative", "task"):
                # The rows themselves, held for the session's life like `_label`'s: the next
                # language's names find them in the identity map.
                rows = self.session.scalars(query, {"ids": sorted(missing)}).all()
                self.session.info.setdefault("eventtext_rows", []).extend(rows)
                found = {row.id: self._name(what, row) for row in rows}
            else:
                found = dict(self.session.execute(query, {"ids": sorted(missing)}).all())
            for ident, name in found.items():
                if name is not None:
                    self._cache[(what, ident)] = name

    def _name(self, what: str, row) -> str | None:
        """What `relative`, `task`, `user` and `team` say for a row they looked up."""
        if what == "relative":
            return row.label
        if what == "task":
            return row.title_in(self.language)
        return row.name

    def user(self, user_id) -> str:
        from crisis.auth.models import User

        return self._get("user", user_id, lambda: getattr(self._row(User, user_id), "name", None),
                         lambda: _("a removed account"))

    def users(self, user_ids: Iterable | None) -> str:
        return ", ".join(self.user(u) for u in dict.fromkeys(user_ids or []))

    def task(self, task_id) -> str:
        from crisis.tasks.models import Task

        def load():
            task = self._row(Task, task_id)
            return task.title_in(self.language) if task is not None else None
        return self._get("task", task_id, load, lambda: _("a removed task"))

    def team(self, team_id) -> str:
        from crisis.organisation.models import Team

        return self._get("team", team_id, lambda: getattr(self._row(Team, team_id), "name", None),
                         lambda: _("a removed team"))

    def district(self, district_id) -> str:
        from crisis.organisation.models import District

        return self._get("district", district_id, lambda: getattr(self._row(District, district_id), "name", None),
                         lambda: "–")

    def relative(self, relative_id) -> str:
        """The relative's label ("Anhörig 2"): never the name (protected identity, DOMAIN.md)."""
        from crisis.incidents.models import Relative

        return self._get("relative", relative_id,
                         lambda: self._label(Relative, relative_id),
                         lambda: _("a relative"))

    def person(self, person_id) -> str:
        from crisis.incidents.models import AffectedPerson

        def load():
            label = self._label(AffectedPerson, person_id)
            return _("Person %(n)s", n=label.split()[-1]) if label is not None else None
        return self._get("person", person_id, load, lambda: _("the person concerned"))

    def organisation(self, code) -> str:
        return self._get("organisation", code, lambda: organisation_name(self.session, code), lambda: "–")

    def follow_up(self, follow_up_id, label_text: str | None = None) -> str:
        """ "after 1 week", from the follow-up's label ("1w")."""
        from crisis.followups.models import FollowUp

        text = label_text
        if not text and follow_up_id is not None:
            text = getattr(self._row(FollowUp, follow_up_id), "label", None)
        if not text:
            return ""
        try:
            from crisis.playbooks.durations import parse_duration
            from crisis.playbooks.render import describe_duration

            return describe_duration(parse_duration(text), self.language)
        except Exception:
            return str(text)

    def language_name(self, code) -> str:
        """A language in the reader's words ("arabiska"), so exports need no foreign script."""
        from babel import Locale

        if not code:
            return "–"
        try:
            return Locale.parse(self.language).languages.get(str(code).split("-")[0]) or label("language", code)
        except Exception:
            return label("language", code)

    def message_recipient(self, message_id) -> str:
        from crisis.messaging.models import Message

        def load():
            message = self._row(Message, message_id)
            if message is None:
                return None
            if message.recipient_user_id is not None:
                return self.user(message.recipient_user_id)
            if message.recipient_relative_id is not None:
                return self.relative(message.recipient_relative_id)
            return _("a number not in the register")
        return self._get("message", message_id, load, lambda: _("a number not in the register"))


@cache
def _prefetch_query(what: str):
    """The model `Names.prefetch` looks `what` up in, its statement (built once: SQLAlchemy works
    out a statement's cache key each time one is built) and the column the name is in."""
    from crisis.auth.models import User
    from crisis.incidents.models import Relative
    from crisis.organisation.models import Team
    from crisis.tasks.models import Task

    ids = bindparam("ids", expanding=True)
    if what == "relative":
        return Relative, select(Relative).where(Relative.id.in_(ids)).options(load_only(Relative.label)), "label"
    if what == "task":
        return Task, select(Task).where(Task.id.in_(ids)).options(load_only(Task.title)), "title"
    model = {"user": User, "team": Team}[what]
    return model, select(model.id, model.name).where(model.id.in_(ids)), "name"


def when(value) -> str:
    """An ISO time from event data as Stockholm local time ("1 dec. 2026 14:05")."""
    if not value:
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return "–"
    if not isinstance(value, datetime):
        return "–"
    return format_datetime(value, "d MMM yyyy HH:mm", tzinfo=STOCKHOLM, locale=_language.get())


# -- rendering -------------------------------------------------------------------------------


def fallback(ev: Ev) -> str:
    """A neutral sentence for a type nobody wrote a renderer for (yet)."""
    from crisis.timeline.kinds import kind_label

    what = ev.type.split(".", 1)[-1] if ev.type else ""
    return _("%(kind)s: %(what)s", kind=kind_label(ev.kind) if ev.kind else _("Event"),
             what=humanise(what) or _("event"))


def render_one(ev: Ev, names: Names) -> str:
    fn = RENDERERS.get(ev.type)
    if fn is None:
        return fallback(ev)
    try:
        return fn(ev, names)
    except Exception:
        log.warning("timeline: rendering %s failed; neutral text shown", ev.type, exc_info=True)
        return fallback(ev)


def render(event, language: str, session: Session, names: Names | None = None) -> str:
    """One event (a TimelineEvent or an Ev) as a sentence in `language`."""
    names = names or Names(session, language)
    ev = event if isinstance(event, Ev) else Ev.of(event)
    token = _language.set(names.language)
    try:
        with force_locale(names.language):
            return render_one(ev, names)
    finally:
        _language.reset(token)


def render_events(events: Iterable, language: str, session: Session, holding: Session | None = None, *,
                  names: Names | None = None) -> list[str]:
    """Events as sentences in `language`; the names they mention looked up together first."""
    if names is None:
        names = Names(session, language, holding)
    evs = [e if isinstance(e, Ev) else Ev.of(e) for e in events]
    names.prefetch(evs)
    token = _language.set(names.language)
    try:
        with force_locale(names.language):
            return [render_one(ev, names) for ev in evs]
    finally:
        _language.reset(token)


def event_json(event, language: str, session: Session, names: Names | None = None) -> dict:
    """The API shape: the facts (`type`, `data`) and the sentence in `language` as `summary`."""
    return {**event.as_json(), "summary": render(event, language, session, names)}


# -- incident ----------------------------------------------------------------------------------


@renderer("incident.activated")
def _incident_activated(ev: Ev, n: Names) -> str:
    return _("Response %(ref)s activated: %(type)s in %(district)s (%(outcome)s)",
             ref=ev.get("reference") or "", type=label("incident_type", ev.get("type")).lower(),
             district=n.district(ev.get("district_id")), outcome=label("outcome", ev.get("outcome")).lower())


DATE_FACTS = ("death_at", "funeral_at", "judgment_at")


def _fact_value(field: str, value) -> str:
    if value in (None, ""):
        return _("not set")
    if field in DATE_FACTS:
        return when(value)
    group = {"threat_level": "threat_level", "status": "incident_status", "outcome": "outcome"}.get(field)
    return label(group, value).lower() if group else str(value)


@renderer("incident.updated")
def _incident_updated(ev: Ev, n: Names) -> str:
    parts = []
    for field, change in sorted(ev.data.items()):
        if not isinstance(change, dict):
            continue
        parts.append(_("%(fact)s %(before)s → %(after)s", fact=label("incident_fact", field),
                       before=_fact_value(field, change.get("before")),
                       after=_fact_value(field, change.get("after"))))
    if not parts:
        return _("Facts about the incident changed")
    return _("Facts changed: %(changes)s", changes="; ".join(parts))


def _plan_reason(reason: str) -> str:
    reason = reason or ""
    if reason.startswith("facts:"):
        facts = [f for f in reason[len("facts:"):].split(",") if f]
        return _("new facts (%(facts)s)", facts=labels("incident_fact", facts))
    return label("plan_reason", reason)


@renderer("incident.plan_applied")
def _plan_applied(ev: Ev, n: Names) -> str:
    def count(key):
        value = ev.get(key)
        return len(value) if isinstance(value, list) else int(value or 0)

    words = {
        "created": lambda k: ngettext("%(num)s task created", "%(num)s tasks created", k),
        "redated": lambda k: ngettext("%(num)s deadline moved", "%(num)s deadlines moved", k),
        "cancelled": lambda k: ngettext("%(num)s task cancelled", "%(num)s tasks cancelled", k),
        "reopened": lambda k: ngettext("%(num)s task reopened", "%(num)s tasks reopened", k),
        "followups_created": lambda k: ngettext("%(num)s follow-up planned", "%(num)s follow-ups planned", k),
        "followups_redated": lambda k: ngettext("%(num)s follow-up moved", "%(num)s follow-ups moved", k),
        "followups_cancelled": lambda k: ngettext("%(num)s follow-up cancelled",
                                                  "%(num)s follow-ups cancelled", k),
        "followups_reopened": lambda k: ngettext("%(num)s follow-up planned again",
                                                 "%(num)s follow-ups planned again", k),
    }
    parts = [say(count(key)) for key, say in words.items() if count(key)]
    return _("Plan updated after %(reason)s: %(changes)s", reason=_plan_reason(ev.get("reason")),
             changes=", ".join(parts) or _("no changes"))


@renderer("incident.anonymised")
def _anonymised(ev: Ev, n: Names) -> str:
    days = ev.get("retention_days")
    if days:
        return _("Personal data removed after the retention period (%(days)s days after closing)", days=days)
    return _("Personal data removed after the retention period")


@renderer("incident.contact_details_removed")
def _contact_details_removed(ev: Ev, n: Names) -> str:
    return _("Relatives' phone numbers removed after the contact-details period")


@renderer("person.added")
def _person_added(ev: Ev, n: Names) -> str:
    return _("%(person)s added (%(outcome)s)", person=n.person(ev.get("person_id")),
             outcome=label("outcome", ev.get("outcome")).lower())


@renderer("person.case_worker_set")
def _case_worker_set(ev: Ev, n: Names) -> str:
    if ev.get("case_worker_id"):
        return _("Case worker of %(person)s: %(name)s", person=n.person(ev.get("person_id")),
                 name=n.user(ev.get("case_worker_id")))
    return _("Case worker of %(person)s removed", person=n.person(ev.get("person_id")))


# -- relatives ---------------------------------------------------------------------------------


@renderer("relative.added")
def _relative_added(ev: Ev, n: Names) -> str:
    details = [label("relation", ev.get("relation")).lower()]
    if ev.get("is_child"):
        details.append(_("child"))
    if ev.get("interpreter_needed"):
        details.append(_("needs an interpreter (%(language)s)", language=n.language_name(ev.get("language"))))
    if ev.get("protected_identity"):
        details.append(_("protected identity"))
    return _("%(label)s added (%(details)s)", label=n.relative(ev.get("relative_id")), details=", ".join(details))


@renderer("relative.contact_person_set")
def _contact_person_set(ev: Ev, n: Names) -> str:
    who = n.relative(ev.get("relative_id"))
    if ev.get("after"):
        return _("Contact person for %(label)s: %(name)s", label=who, name=n.user(ev.get("after")))
    return _("Contact person for %(label)s removed", label=who)


@renderer("relative.consent_recorded")
def _consent_recorded(ev: Ev, n: Names) -> str:
    scopes = ev.get("scope") or []
    text = _("Consent of %(label)s: %(state)s", label=n.relative(ev.get("relative_id")),
             state=label("consent_state", ev.get("after")).lower())
    if scopes:
        text += " (" + labels("consent_scope", scopes).lower() + ")"
    if ev.get("method") and ev.get("after") == "given":
        text += " · " + label("consent_method", ev.get("method"))
    return text


@renderer("relative.first_contact")
def _first_contact(ev: Ev, n: Names) -> str:
    return _("First contact with %(label)s", label=n.relative(ev.get("relative_id")))


@renderer("relative.referred")
def _referred(ev: Ev, n: Names) -> str:
    return _("%(label)s referred to %(organisation)s", label=n.relative(ev.get("relative_id")),
             organisation=n.organisation(ev.get("organisation")))


@renderer("relative.data_subject_export")
def _data_subject_export(ev: Ev, n: Names) -> str:
    return _("Everything held about %(label)s exported (request from the data subject)",
             label=n.relative(ev.get("relative_id")))


# -- tasks -------------------------------------------------------------------------------------


def _task(ev: Ev, n: Names) -> str:
    return n.task(ev.get("task_id") or (ev.subject_id if ev.subject_type == "task" else None))


@renderer("task.created")
def _task_created(ev: Ev, n: Names) -> str:
    return _("Task added: “%(title)s” (%(category)s)", title=_task(ev, n),
             category=label("task_category", ev.get("category")).lower())


@renderer("task.status_changed")
def _task_status(ev: Ev, n: Names) -> str:
    status = ev.get("status") or {}
    return _("Task “%(title)s”: %(before)s → %(after)s", title=_task(ev, n),
             before=label("task_status", status.get("before")).lower(),
             after=label("task_status", status.get("after")).lower())


@renderer("task.updated")
def _task_updated(ev: Ev, n: Names) -> str:
    parts = []
    status = ev.get("status")
    if isinstance(status, dict):
        parts.append(_("status %(before)s → %(after)s", before=label("task_status", status.get("before")).lower(),
                       after=label("task_status", status.get("after")).lower()))
    checklist = ev.get("checklist")
    if isinstance(checklist, dict) and isinstance(checklist.get("after"), list):
        after = checklist["after"]
        parts.append(_("checklist %(done)s of %(total)s done", done=sum(bool(v) for v in after), total=len(after)))
    if ev.get("note"):
        parts.append(_("note changed"))
    owner = ev.get("owner_user_id")
    if isinstance(owner, dict):
        parts.append(_("responsible: %(name)s", name=n.user(owner["after"])) if owner.get("after")
                     else _("no one responsible"))
    due = ev.get("due_at")
    if isinstance(due, dict):
        parts.append(_("deadline %(due)s", due=when(due.get("after"))) if due.get("after") else _("no deadline"))
    return _("Task “%(title)s” updated: %(changes)s", title=_task(ev, n), changes="; ".join(parts) or "–")


def _told(n: Names, user_ids) -> str:
    return n.users(user_ids) or _("nobody by SMS")


@renderer("task.overdue_escalated")
def _task_overdue(ev: Ev, n: Names) -> str:
    return _("Task “%(title)s” is overdue (deadline %(due)s); told: %(who)s", title=_task(ev, n),
             due=when(ev.get("due_at")), who=_told(n, ev.get("notified_user_ids")))


# -- dispatch ------------------------------------------------------------------------------------


def _target(ev: Ev, n: Names) -> str:
    if ev.get("user_id"):
        return n.user(ev.get("user_id"))
    if ev.get("team_id"):
        return _("team %(team)s", team=n.team(ev.get("team_id")))
    return _("the team")


def _purpose(ev: Ev, n: Names) -> str:
    text = label("dispatch_purpose", ev.get("purpose"))
    if ev.get("task_id"):
        text += ", " + _("task “%(title)s”", title=n.task(ev.get("task_id")))
    return text


def _not_reachable(ev: Ev) -> str:
    refusals = ev.get("no_sms") or {}
    return ", ".join(dict.fromkeys(label("sms_refusal", r) for r in refusals.values()))


@renderer("dispatch.created")
def _dispatch_created(ev: Ev, n: Names) -> str:
    head = _("Alert (%(purpose)s) to %(target)s", purpose=_purpose(ev, n), target=_target(ev, n))
    alerted = ev.get("alerted")
    if alerted is None:
        if "skipped" in ev.data:
            return _("%(head)s: nobody in the team can be alerted by SMS", head=head)
        return head
    sms_ids = [u for u in alerted if str(u) not in (ev.get("no_sms") or {})]
    if sms_ids:
        return _("%(head)s: %(names)s alerted by SMS", head=head, names=n.users(sms_ids))
    return _("%(head)s: not reachable by SMS (%(why)s)", head=head, why=_not_reachable(ev) or "–")


UNREACHABLE = ("opted_out", "no_number", "inactive", "off_duty")


@renderer("dispatch.escalated")
def _dispatch_escalated(ev: Ev, n: Names) -> str:
    reason = label("escalation_reason", ev.get("reason"))
    if ev.get("target") == "coordinator" and ev.get("reason") in UNREACHABLE:
        # Issue 12: the person dispatched cannot be reached, so the coordinator hears at once.
        return _("Alert (%(purpose)s) to %(target)s cannot be delivered (%(reason)s); coordinator told at once: "
                 "%(who)s", purpose=_purpose(ev, n), target=_target(ev, n), reason=reason,
                 who=n.users(ev.get("alerted")) or _("no coordinator found"))
    if ev.get("target") == "coordinator":
        who = n.users(ev.get("alerted")) or _("no coordinator found")
        return _("Alert (%(purpose)s) not acknowledged; coordinator told: %(who)s (%(reason)s)",
                 purpose=_purpose(ev, n), who=who, reason=reason)
    return _("Alert (%(purpose)s) passed on to %(who)s (%(reason)s)", purpose=_purpose(ev, n),
             who=n.users(ev.get("alerted")) or "–", reason=reason)


@renderer("dispatch.exhausted")
def _dispatch_exhausted(ev: Ev, n: Names) -> str:
    return _("Alert (%(purpose)s): nobody left to alert (%(reason)s)", purpose=_purpose(ev, n),
             reason=label("escalation_reason", ev.get("reason")))


@renderer("dispatch.alert_failed")
def _alert_failed(ev: Ev, n: Names) -> str:
    return _("The alert SMS to %(name)s was not delivered (%(status)s)", name=n.user(ev.get("user_id")),
             status=label("message_status", ev.get("status")))


@renderer("dispatch.acknowledged")
def _acknowledged(ev: Ev, n: Names) -> str:
    via = {"sms": _("by SMS"), "link": _("from the link in the SMS"), "app": _("on the web"),
           "api": _("in the app"),
           "push": _("(acknowledged via push)")}.get(ev.get("via"), "–")
    minutes = int(ev.get("seconds_to_ack") or 0) // 60
    return _("%(name)s took the alert (%(purpose)s) %(via)s after %(minutes)s min",
             name=n.user(ev.get("acknowledged_by")), purpose=_purpose(ev, n), via=via, minutes=minutes)


@renderer("dispatch.cancelled")
def _dispatch_cancelled(ev: Ev, n: Names) -> str:
    return _("Alert (%(purpose)s) to %(target)s called off", purpose=_purpose(ev, n), target=_target(ev, n))


# -- messages ------------------------------------------------------------------------------------


@renderer("message.queued")
def _message_queued(ev: Ev, n: Names) -> str:
    return _("SMS to %(label)s queued (%(purpose)s)", label=n.relative(ev.get("relative_id")),
             purpose=label("message_purpose", ev.get("purpose")).lower())


@renderer("message.sent", "message.delivered", "message.undelivered", "message.failed", "message.expired")
def _message_status(ev: Ev, n: Names) -> str:
    text = _("SMS to %(recipient)s %(status)s (%(purpose)s)", recipient=n.message_recipient(ev.get("message_id")),
             status=label("message_status", ev.get("status") or ev.type.split(".")[-1]),
             purpose=label("message_purpose", ev.get("purpose")).lower())
    code = ev.get("error_code")
    if code:
        text += " · " + (_("error code %(code)s", code=code) if str(code).isdigit() else label("sms_error", code))
    return text


@renderer("message.received")
def _message_received(ev: Ev, n: Names) -> str:
    return _("SMS received from %(sender)s (%(intent)s)", sender=n.message_recipient(ev.get("message_id")),
             intent=label("intent", ev.get("intent")))


@renderer("sms.opted_out")
def _sms_opted_out(ev: Ev, n: Names) -> str:
    if ev.get("relative_id"):
        who = n.relative(ev.get("relative_id"))
    elif ev.get("user_id"):
        who = n.user(ev.get("user_id"))
    else:
        who = _("A number not in the register")
    return _("%(who)s replied %(keyword)s: no more SMS until they reply START", who=who,
             keyword=ev.get("keyword") or "STOP")


@renderer("sms.opted_in")
def _sms_opted_in(ev: Ev, n: Names) -> str:
    if ev.get("relative_id"):
        who = n.relative(ev.get("relative_id"))
    elif ev.get("user_id"):
        who = n.user(ev.get("user_id"))
    else:
        who = _("A number not in the register")
    return _("%(who)s replied %(keyword)s: SMS can be sent again", who=who, keyword=ev.get("keyword") or "START")


@renderer("user.opted_out")
def _user_opted_out(ev: Ev, n: Names) -> str:
    return _("%(name)s replied STOP: no alerts or reminders by SMS until they reply START",
             name=n.user(ev.get("user_id")))


@renderer("user.opted_in")
def _user_opted_in(ev: Ev, n: Names) -> str:
    return _("%(name)s replied START: alerts and reminders by SMS again", name=n.user(ev.get("user_id")))


@renderer("push.subscribed")
def _push_subscribed(ev: Ev, n: Names) -> str:
    return _("%(name)s turned on push alerts on a device", name=n.user(ev.get("user_id")))


@renderer("push.unsubscribed")
def _push_unsubscribed(ev: Ev, n: Names) -> str:
    return _("%(name)s turned off push alerts on a device", name=n.user(ev.get("user_id")))


@renderer("push.removed")
def _push_removed(ev: Ev, n: Names) -> str:
    return _("A device of %(name)s no longer takes push alerts (the push service answered %(status)s); "
             "alerts go by SMS until push is turned on again", name=n.user(ev.get("user_id")),
             status=ev.get("status") or "–")


# -- follow-ups ------------------------------------------------------------------------------------


def _follow_up(ev: Ev, n: Names) -> str:
    after = n.follow_up(ev.get("follow_up_id"), ev.get("label"))
    relative_id = ev.get("relative_id")
    if relative_id is None and ev.get("follow_up_id") is not None:
        from crisis.followups.models import FollowUp

        row = n._row(FollowUp, ev.get("follow_up_id"))
        relative_id = getattr(row, "relative_id", None)
    who = n.relative(relative_id)
    if after:
        return _("the follow-up after %(after)s with %(label)s", after=after, label=who)
    return _("the follow-up with %(label)s", label=who)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@renderer("followup.reached")
def _followup_reached(ev: Ev, n: Names) -> str:
    text = _("%(followup)s: reached", followup=_cap(_follow_up(ev, n)))
    if ev.get("channel"):
        text += " (" + label("channel", ev.get("channel")).lower() + ")"
    return text


@renderer("followup.not_reached")
def _followup_not_reached(ev: Ev, n: Names) -> str:
    return _("%(followup)s: not reached; new attempt %(due)s", followup=_cap(_follow_up(ev, n)),
             due=when(ev.get("retry_due_at")))


@renderer("followup.declined")
def _followup_declined(ev: Ev, n: Names) -> str:
    cancelled = len(ev.get("cancelled_follow_up_ids") or [])
    return _("%(followup)s: declined further contact (%(reason)s); %(count)s",
             followup=_cap(_follow_up(ev, n)), reason=label("decline_reason", ev.get("decline_reason")),
             count=ngettext("%(num)s remaining follow-up cancelled", "%(num)s remaining follow-ups cancelled",
                            cancelled))


@renderer("followup.rescheduled")
def _followup_rescheduled(ev: Ev, n: Names) -> str:
    return _("%(followup)s moved to %(due)s (%(reason)s)", followup=_cap(_follow_up(ev, n)),
             due=when(ev.get("after")), reason=label("reschedule_reason", ev.get("reason")))


@renderer("followup.overdue_escalated")
def _followup_overdue(ev: Ev, n: Names) -> str:
    return _("%(followup)s is overdue (due %(due)s); told: %(who)s", followup=_cap(_follow_up(ev, n)),
             due=when(ev.get("due_at")), who=_told(n, ev.get("notified_user_ids")))


@renderer("followup.reminder_sent")
def _reminder_sent(ev: Ev, n: Names) -> str:
    return _("Reminder of %(followup)s sent to %(name)s", followup=_follow_up(ev, n),
             name=n.user(ev.get("recipient_user_id")))


@renderer("followup.reminder_not_sent")
def _reminder_not_sent(ev: Ev, n: Names) -> str:
    return _("No reminder of %(followup)s: %(reason)s", followup=_follow_up(ev, n),
             reason=label("sms_refusal", ev.get("reason")))


@renderer("followup.reminder_given_up")
def _reminder_given_up(ev: Ev, n: Names) -> str:
    return _("Reminder of %(followup)s given up after %(attempts)s attempts (%(reason)s)",
             followup=_follow_up(ev, n), attempts=ev.get("attempts") or 0,
             reason=label("sms_refusal", ev.get("reason")))


@renderer("scheduler.stale_claims_released")
def _stale_claims(ev: Ev, n: Names) -> str:
    return ngettext("%(num)s follow-up reminder left unfinished by a stopped scheduler is retried",
                    "%(num)s follow-up reminders left unfinished by a stopped scheduler are retried",
                    int(ev.get("count") or 0))


# -- staff and retention ---------------------------------------------------------------------------


@renderer("user.deactivated")
def _deactivated(ev: Ev, n: Names) -> str:
    return _("Account of %(name)s deactivated", name=n.user(ev.get("user_id")))


@renderer("user.availability_changed")
def _availability(ev: Ev, n: Names) -> str:
    return _("%(name)s is now %(availability)s", name=n.user(ev.get("user_id")),
             availability=label("availability", ev.get("after")))


@renderer("user.two_factor_enrolled")
def _two_factor_enrolled(ev: Ev, n: Names) -> str:
    return _("%(name)s set up two-factor login", name=n.user(ev.get("user_id")))


@renderer("user.two_factor_removed")
def _two_factor_removed(ev: Ev, n: Names) -> str:
    reason = ev.get("reason")
    text = _("Two-factor login of %(name)s removed", name=n.user(ev.get("user_id")))
    return f"{text} ({label('two_factor_removal', reason) if reason in ('admin', 'self') else reason})" \
        if reason else text


@renderer("user.recovery_codes_issued")
def _recovery_codes(ev: Ev, n: Names) -> str:
    return _("%(name)s made new recovery codes", name=n.user(ev.get("user_id")))


@renderer("user.recovery_code_used")
def _recovery_code_used(ev: Ev, n: Names) -> str:
    return _("%(name)s logged in with a recovery code (%(left)s left)", name=n.user(ev.get("user_id")),
             left=ev.get("left") if ev.get("left") is not None else "–")


@renderer("user.morning_summary_sent")
def _morning_summary(ev: Ev, n: Names) -> str:
    return _("Morning summary sent to %(name)s: %(open)s open tasks, %(overdue)s overdue, "
             "%(followups)s follow-ups today", name=n.user(ev.get("user_id")), open=ev.get("count_open") or 0,
             overdue=ev.get("count_overdue") or 0, followups=ev.get("count_followups") or 0)


@renderer("retention.swept")
def _retention_swept(ev: Ev, n: Names) -> str:
    return _("Retention: %(anonymised)s incidents anonymised, contact details removed in %(removed)s",
             anonymised=ev.get("incidents_anonymised") or 0, removed=ev.get("contact_details_removed") or 0)


# -- issues 12, 14, 15, 18: staff administration, on-call, two-person export, withdrawal ----------


def day(value) -> str:
    """An ISO date from event data in the reader's words ("1 dec. 2026")."""
    from datetime import date

    try:
        value = date.fromisoformat(str(value)[:10])
    except ValueError:
        return "–"
    return format_date(value, "d MMM yyyy", locale=_language.get())


def _roles(codes) -> str:
    return labels("role", codes).lower() or "–"


@renderer("user.invited")
def _user_invited(ev: Ev, n: Names) -> str:
    text = _("%(name)s invited as %(roles)s", name=n.user(ev.get("user_id")), roles=_roles(ev.get("roles")))
    if ev.get("district_id"):
        text += " · " + _("district %(district)s", district=n.district(ev.get("district_id")))
    if ev.get("sent_by_sms"):
        text += " · " + _("link to choose a password sent by SMS")
    return text


@renderer("user.updated")
def _user_updated(ev: Ev, n: Names) -> str:
    parts = []
    for field in ev.get("changed") or []:
        if field == "roles":
            parts.append(_("roles: %(roles)s", roles=_roles(ev.get("roles"))))
        elif field == "district":
            parts.append(_("district: %(district)s", district=n.district(ev.get("district_id")))
                         if ev.get("district_id") else _("no district"))
        elif field == "phone":
            parts.append(_("mobile number changed"))
        elif field == "language":
            parts.append(_("language: %(language)s", language=n.language_name(ev.get("language"))))
        elif field == "name":
            parts.append(_("name changed"))
    return _("Account of %(name)s changed: %(changes)s", name=n.user(ev.get("user_id")),
             changes="; ".join(parts) or "–")


@renderer("user.reactivated")
def _user_reactivated(ev: Ev, n: Names) -> str:
    return _("Account of %(name)s reactivated", name=n.user(ev.get("user_id")))


@renderer("user.password_reset")
def _password_reset(ev: Ev, n: Names) -> str:
    return _("Password of %(name)s reset: a one-time link to choose a new one was made",
             name=n.user(ev.get("user_id")))


@renderer("user.password_changed")
def _password_changed(ev: Ev, n: Names) -> str:
    return _("%(name)s changed their password", name=n.user(ev.get("user_id")))


@renderer("user.password_set")
def _password_set(ev: Ev, n: Names) -> str:
    if ev.get("via") == "invite":
        return _("%(name)s chose a password from the invitation link", name=n.user(ev.get("user_id")))
    return _("%(name)s chose a new password from a one-time link", name=n.user(ev.get("user_id")))


@renderer("user.sessions_ended")
def _sessions_ended(ev: Ev, n: Names) -> str:
    return _("Every session of %(name)s ended (%(reason)s)", name=n.user(ev.get("user_id")),
             reason=label("session_end_reason", ev.get("reason") or "sign_out_everywhere"))


@renderer("user.login_unlocked")
def _login_unlocked(ev: Ev, n: Names) -> str:
    if ev.get("address_cleared"):
        return _("Login delays after wrong passwords cleared for %(name)s and for one network address",
                 name=n.user(ev.get("user_id")))
    return _("Login delays after wrong passwords cleared for %(name)s", name=n.user(ev.get("user_id")))


@renderer("user.calendar_feed_created")
def _calendar_feed_created(ev: Ev, n: Names) -> str:
    return _("%(name)s made a new calendar address for their on-call shifts", name=n.user(ev.get("user_id")))


@renderer("user.calendar_feed_revoked")
def _calendar_feed_revoked(ev: Ev, n: Names) -> str:
    return _("%(name)s stopped their calendar address; the old one no longer works",
             name=n.user(ev.get("user_id")))


@renderer("token.revoked")
def _token_revoked(ev: Ev, n: Names) -> str:
    return _("An API token of %(name)s revoked", name=n.user(ev.get("user_id")))


@renderer("team.members_changed")
def _team_members(ev: Ev, n: Names) -> str:
    team = n.team(ev.get("team_id"))
    after = ev.get("after") or []
    if not after:
        return _("Team %(team)s now has no members", team=team)
    return _("Members of team %(team)s, in alert order: %(names)s", team=team, names=n.users(after))


@renderer("oncall.rota_saved")
def _rota_saved(ev: Ev, n: Names) -> str:
    shifts = [s for s in ev.get("shifts") or [] if isinstance(s, (list, tuple)) and len(s) == 3]
    text = _("On-call rota of team %(team)s saved: %(shifts)s in a %(days)s-day cycle from %(date)s",
             team=n.team(ev.get("team_id")),
             shifts=ngettext("%(num)s shift", "%(num)s shifts", len(shifts)),
             days=ev.get("cycle_days") or "–", date=day(ev.get("starts_on")))
    people = n.users(s[2] for s in shifts)
    if people:
        text += " (" + people + ")"
    return text


@renderer("oncall.override_added")
def _override_added(ev: Ev, n: Names) -> str:
    return _("%(name)s on call for team %(team)s from %(start)s to %(end)s (%(reason)s)",
             name=n.user(ev.get("user_id")), team=n.team(ev.get("team_id")), start=when(ev.get("starts_at")),
             end=when(ev.get("ends_at")), reason=label("override_reason", ev.get("reason")).lower())


@renderer("oncall.override_removed")
def _override_removed(ev: Ev, n: Names) -> str:
    return _("Change of on-call for team %(team)s (%(name)s) removed", team=n.team(ev.get("team_id")),
             name=n.user(ev.get("user_id")))


@renderer("organisation.applied")
def _organisation_applied(ev: Ev, n: Names) -> str:
    return _("Organisation file for %(city)s applied: %(changes)s", city=ev.get("city") or "–",
             changes=ngettext("%(num)s change", "%(num)s changes", int(ev.get("changes") or 0)))


@renderer("dispatch.coordinator_alerted")
def _coordinator_alerted(ev: Ev, n: Names) -> str:
    reason = str(ev.get("reason") or "")
    why = label("escalation_reason", reason.removeprefix("on_call_"))
    who = n.users(ev.get("alerted")) or _("no coordinator found")
    if reason.startswith("on_call_"):
        return _("Alert (%(purpose)s): %(name)s, on call, cannot be reached (%(reason)s); coordinator told at "
                 "once: %(who)s", purpose=_purpose(ev, n), name=n.user(ev.get("unreachable_user_id")),
                 reason=why, who=who)
    return _("Alert (%(purpose)s) to %(target)s cannot be delivered (%(reason)s); coordinator told at once: "
             "%(who)s", purpose=_purpose(ev, n), target=_target(ev, n), reason=why, who=who)


@renderer("dispatch.access_withdrawn")
def _access_withdrawn(ev: Ev, n: Names) -> str:
    return _("%(name)s took the alert; access to the incident withdrawn for the others alerted: %(names)s",
             name=n.user(ev.get("acknowledged_by")), names=n.users(ev.get("user_ids")) or "–")


@renderer("relative.export_requested")
def _export_requested(ev: Ev, n: Names) -> str:
    return _("Register extract for %(label)s requested; a second person must approve it",
             label=n.relative(ev.get("relative_id")))


@renderer("relative.export_approved")
def _export_approved(ev: Ev, n: Names) -> str:
    return _("Register extract for %(label)s approved by a second person", label=n.relative(ev.get("relative_id")))


@renderer("incident.withdrawn")
def _incident_withdrawn(ev: Ev, n: Names) -> str:
    cancelled = ev.get("cancelled") if isinstance(ev.get("cancelled"), dict) else {}
    words = {"tasks": lambda k: ngettext("%(num)s task", "%(num)s tasks", k),
             "follow_ups": lambda k: ngettext("%(num)s follow-up", "%(num)s follow-ups", k),
             "dispatches": lambda k: ngettext("%(num)s alert", "%(num)s alerts", k)}
    counts = [say(int(cancelled.get(key) or 0)) for key, say in words.items() if int(cancelled.get(key) or 0)]
    return _("Activation %(ref)s withdrawn (“%(reason)s”); cancelled: %(counts)s",
             ref=ev.get("reference") or "", reason=ev.get("reason") or "–",
             counts=", ".join(counts) or _("nothing was open"))


@renderer("task.reassigned")
def _task_reassigned(ev: Ev, n: Names) -> str:
    owner = ev.get("owner_user_id") if isinstance(ev.get("owner_user_id"), dict) else {}
    text = _("Task “%(title)s” given to %(name)s, who took the alert", title=_task(ev, n),
             name=n.user(owner.get("after")))
    if owner.get("before"):
        text += " " + _("(before: %(name)s)", name=n.user(owner.get("before")))
    return text
