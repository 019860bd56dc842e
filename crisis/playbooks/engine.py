"""The engine: turns a pinned playbook and what is known about an incident into rows.

`apply_playbook` plans from the incident's current facts and reconciles the
plan with the tasks and follow-ups already there, by key:

- a planned item with no row gets one (owner by role and the district's SIG);
- a row whose deadline moved (the death date became known) is re-dated;
- an open row whose condition no longer holds (consent withdrawn, threat
  lowered) is cancelled, and comes back if the condition holds again.

Work in progress and finished work is never touched. Running it again with
the same facts changes nothing, so every service that changes a fact simply
calls it. Each run that changes anything is one timeline event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app, has_app_context
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crisis.core.config import PROJECT_ROOT
from crisis.core.signals import plan_laid_out
from crisis.organisation.models import District, Team
from crisis.playbooks.loader import Playbook, load_directory
from crisis.playbooks.models import PlaybookSnapshot
from crisis.playbooks.plan import (
    Facts,
    PersonFacts,
    RelativeFacts,
    plan,
)
from crisis.timeline.services import record_event

if TYPE_CHECKING:  # annotations only: the engine reads an incident's facts, incidents build on playbooks
    from crisis.incidents.models import Incident


class PlaybookNotFound(LookupError):
    pass


def playbook_dir() -> Path:
    if has_app_context():
        return Path(current_app.config["PLAYBOOK_DIR"])
    return PROJECT_ROOT / "playbooks"


_cache: dict[Path, tuple[tuple, list[Playbook]]] = {}
_checked_at: dict[Path, float] = {}
#: How long the files are trusted unchanged before they are looked at again:
#: globbing and two stats a file on every call cost more than a page's own
#: work; an edited playbook still shows within a second.
RECHECK_AFTER_S = 1.0


def available_playbooks(directory: Path | None = None) -> list[Playbook]:
    """The valid playbooks of the directory, read again only when a file changed."""
    directory = Path(directory or playbook_dir())
    cached = _cache.get(directory)
    now = time.monotonic()
    if cached is not None and now - _checked_at.get(directory, float("-inf")) < RECHECK_AFTER_S:
        return list(cached[1])
    stamp = tuple(sorted((p.name, st.st_mtime_ns, st.st_size)
                         for p in directory.glob("*.y*ml") for st in (p.stat(),)))
    if cached is None or cached[0] != stamp:
        cached = (stamp, sorted(load_directory(directory), key=lambda p: p.id))
        _cache[directory] = cached
    _checked_at[directory] = now
    return list(cached[1])


def playbooks_for(incident_type: str, directory: Path | None = None) -> list[Playbook]:
    return [p for p in available_playbooks(directory) if incident_type in p.content["applies_to"]]


def find_playbook(playbook_id: str, directory: Path | None = None) -> Playbook:
    for playbook in available_playbooks(directory):
        if playbook.id == playbook_id:
            return playbook
    raise PlaybookNotFound(f"No playbook with id {playbook_id!r} in {directory or playbook_dir()}.")


_SNAPSHOT = select(PlaybookSnapshot).where(PlaybookSnapshot.playbook_id == bindparam("playbook_id"),
                                           PlaybookSnapshot.content_hash == bindparam("content_hash"))


def pin_snapshot(session: Session, playbook: Playbook) -> PlaybookSnapshot:
    """The snapshot row for exactly this content (one per content hash)."""
    snapshot = session.scalar(_SNAPSHOT, {"playbook_id": playbook.id, "content_hash": playbook.content_hash})
    if snapshot is None:
        snapshot = PlaybookSnapshot(
            playbook_id=playbook.id, version=playbook.version, content_hash=playbook.content_hash,
            content=playbook.content, source_text=playbook.source_text, source_path=str(playbook.path),
        )
        session.add(snapshot)
        session.flush()
    return snapshot


def snapshot_playbook(snapshot: PlaybookSnapshot) -> Playbook:
    """The pinned content as a Playbook (validated when it was pinned)."""
    return Playbook(
        id=snapshot.playbook_id, version=snapshot.version, content=snapshot.content,
        content_hash=snapshot.content_hash, source_text=snapshot.source_text,
        path=snapshot.source_path,
    )


def person_ref(person_id: int) -> str:
    return f"p{person_id}"


def relative_ref(relative_id: int) -> str:
    return f"r{relative_id}"


def incident_facts(incident: Incident) -> Facts:
    return Facts(
        incident_type=incident.type.value,
        outcome=incident.outcome.value,
        threat_level=incident.threat_level.value,
        anchors={
            "activation": incident.activated_at,
            "occurred": incident.occurred_at,
            "death": incident.death_at,
            "funeral": incident.funeral_at,
            "judgment": incident.judgment_at,
        },
        persons=tuple(
            PersonFacts(ref=person_ref(p.id), outcome=p.outcome.value,
                        death_at=p.death_at or (incident.death_at if p.outcome.value == "deceased" else None))
            for p in incident.persons
        ),
        relatives=tuple(
            RelativeFacts(
                ref=relative_ref(r.id), consent=r.consent.value, is_child=r.is_child,
                language=r.language, protected_identity=r.protected_identity,
                interpreter_needed=r.interpreter_needed, first_contact_at=r.first_contact_at,
                person_ref=person_ref(r.person_id) if r.person_id else None,
            )
            for r in incident.relatives
            if r.anonymised_at is None
        ),
    )


# The engine's queries are built once: building a statement and its cache key again on every
# run costs more than running it (they run several times for each change an incident sees).
_SIG_TEAM = (select(Team).where(Team.district_id == bindparam("district_id"))
             .order_by(Team.is_sig.desc(), Team.id).limit(1))


def sig_team(session: Session, district: District) -> Team | None:
    """The outreach team of the SIG serving `district` (its own, or the one it buys from)."""
    sig_district = district.sig_district or district
    return session.scalar(_SIG_TEAM, {"district_id": sig_district.id})


@dataclass
class ApplyResult:
    created: list[str] = field(default_factory=list)
    redated: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    followups_created: list[str] = field(default_factory=list)
    followups_redated: list[str] = field(default_factory=list)
    followups_cancelled: list[str] = field(default_factory=list)
    followups_reopened: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}


_PEOPLE: dict[tuple[type, str], object] = {}  # (incident class, collection) -> its query, built once


def _people_query(incident_class: type, key: str):
    query = _PEOPLE.get((incident_class, key))
    if query is None:
        model = getattr(incident_class, key).property.mapper.class_  # no import of incidents (layers)
        query = _PEOPLE[(incident_class, key)] = (
            select(model).where(model.incident_id == bindparam("incident_id")).order_by(model.id)
        )
    return query


def _load_people(session: Session, incident: Incident) -> None:
    """The incident's persons and relatives as committed now (what `session.refresh` of the two
    collections gives), with one query each and no reload of the incident row itself."""
    for key in ("persons", "relatives"):
        rows = session.scalars(_people_query(type(incident), key), {"incident_id": incident.id}).all()
        set_committed_value(incident, key, list(rows))


def apply_playbook(session: Session, incident: Incident, actor=None, reason: str = "", *,
                   event: dict | None = None, new_incident: bool = False) -> ApplyResult:
    """Bring the incident's tasks and follow-ups in line with its playbook and facts.

    `event`: the timeline event of the change that made the plan run (`record_event`'s keyword
    arguments). It is recorded here, before the plan's own event and in the same INSERT.

    `new_incident`: the incident was created in this transaction (activation), with its `persons`
    and `relatives` collections set: nothing of it is read back, as there is nothing yet to
    reconcile with (no tasks, no follow-ups, no relatives).
    """
    session.flush()
    if not new_incident:
        _load_people(session, incident)
    planned = plan(snapshot_playbook(incident.playbook_snapshot), incident_facts(incident))
    result = ApplyResult()
    # tasks and follow-ups lay out their own part of the plan (crisis.tasks.receivers, crisis.followups.receivers)
    plan_laid_out.send(
        session, session=session, incident=incident, tasks=planned.tasks, follow_ups=planned.follow_ups,
        relatives={relative_ref(r.id): r for r in incident.relatives},
        persons={person_ref(p.id): p for p in incident.persons}, result=result, new_incident=new_incident,
    )
    if event is not None:
        record_event(session, **event, flush=False)  # written with the plan's event below, before it
    if result.changed:
        counts = {k: v for k, v in result.counts().items() if v}
        summary = "Plan updated: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
        record_event(
            session, kind="incident", type="incident.plan_applied", actor=actor,
            incident_id=incident.id, subject=incident, summary=summary,
            data={"reason": reason, **{k: getattr(result, k) for k in counts}},
        )
    elif event is not None:
        session.flush()
    return result


def working_due(planned, acute: bool):
    """Follow-ups move off weekends and public holidays unless acute (issue 7)."""
    if planned is None or acute:
        return planned
    from crisis.core.holidays import next_working_moment

    return next_working_moment(planned)
