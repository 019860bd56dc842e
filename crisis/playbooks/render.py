"""Plain-text views of a playbook (`show`) and of a planned activation (`simulate`).

Swedish by default, English on request; playbook text in another language
falls back to Swedish. Times are shown in Stockholm time, where the teams work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crisis.playbooks.durations import CALENDAR_ZONE, Duration, parse_duration
from crisis.playbooks.loader import Playbook
from crisis.playbooks.plan import INCIDENT_ANCHORS, Facts, Plan

LANGUAGES = ("sv", "en")

_LABELS: Mapping[str, tuple[str, str]] = {
    # (Swedish, English)
    "role.coordinator": ("samordnare", "coordinator"),
    "role.outreach": ("uppsökande medarbetare", "outreach worker"),
    "role.manager": ("chef", "manager"),
    "role.admin": ("administratör", "administrator"),
    "category.outreach": ("uppsökande", "outreach"),
    "category.crisis_support": ("krisstöd", "crisis support"),
    "category.practical_help": ("praktisk hjälp", "practical help"),
    "category.children": ("barn", "children"),
    "category.safety": ("säkerhet", "safety"),
    "category.coordination": ("samordning", "coordination"),
    "category.referral": ("lotsning", "referral"),
    "agency.skatteverket": ("Skatteverket", "Skatteverket (tax agency)"),
    "agency.pensionsmyndigheten": ("Pensionsmyndigheten", "Pensionsmyndigheten (pensions agency)"),
    "agency.forsakringskassan": ("Försäkringskassan", "Försäkringskassan (social insurance)"),
    "agency.insurer": ("försäkringsbolag", "insurer"),
    "agency.funeral_home": ("begravningsbyrå", "funeral home"),
    "agency.bank": ("bank", "bank"),
    "agency.landlord": ("hyresvärd", "landlord"),
    "agency.school": ("skola eller förskola", "school or preschool"),
    "agency.brottsoffermyndigheten": (
        "Brottsoffermyndigheten",
        "Brottsoffermyndigheten (crime victim authority)",
    ),
    "agency.kronofogden": ("Kronofogden", "Kronofogden (enforcement authority)"),
    "agency.police": ("polisen", "police"),
    "agency.healthcare": ("hälso- och sjukvården", "health care"),
    "agency.other": ("annan aktör", "other"),
    "anchor.activation": ("aktivering", "activation"),
    "anchor.occurred": ("händelsen", "the incident"),
    "anchor.death": ("dödsfallet", "the death"),
    "anchor.funeral": ("begravningen", "the funeral"),
    "anchor.judgment": ("avslutad rättsprocess", "the end of court proceedings"),
    "anchor.first_contact": ("första kontakt", "first contact"),
    "unknown.occurred": (
        "när tidpunkten för händelsen är känd",
        "when the time of the incident is known",
    ),
    "unknown.activation": ("när insatsen är aktiverad", "when the response is activated"),
    "unknown.death": ("när dödsdatum är känt", "when the date of death is known"),
    "unknown.funeral": ("när begravningsdatum är känt", "when the funeral date is known"),
    "unknown.judgment": ("när rättsprocessen är avslutad", "when court proceedings have ended"),
    "unknown.first_contact": ("när första kontakt är tagen", "when first contact has been made"),
    "scope.incident": ("en gång för händelsen", "once for the incident"),
    "scope.relative": ("för varje anhörig", "for each relative"),
    "scope.child_relative": ("för varje anhörigt barn", "for each child relative"),
    "scope.adult_relative": ("för varje vuxen anhörig", "for each adult relative"),
    "scope.deceased": ("för varje avliden", "for each deceased person"),
    "fact.incident.type": ("händelse", "incident"),
    "fact.incident.outcome": ("utfall", "outcome"),
    "fact.incident.threat_level": ("hotbild", "threat level"),
    "fact.relative.consent": ("samtycke", "consent"),
    "fact.relative.is_child": ("barn", "child"),
    "fact.relative.language": ("språk", "language"),
    "fact.relative.protected_identity": ("skyddade personuppgifter", "protected identity"),
    "fact.relative.interpreter_needed": ("behöver tolk", "needs an interpreter"),
    "value.shooting": ("skjutning", "shooting"),
    "value.lethal_violence": ("dödligt våld", "lethal violence"),
    "value.threat_against_relatives": ("hot mot anhöriga", "threats against relatives"),
    "value.injured": ("skadad", "injured"),
    "value.deceased": ("avliden", "deceased"),
    "value.none": ("ingen skadad", "nobody hurt"),
    "value.normal": ("normal", "normal"),
    "value.raised": ("förhöjd", "raised"),
    "value.high": ("hög", "high"),
    "value.unknown": ("okänt", "unknown"),
    "value.given": ("givet", "given"),
    "value.declined": ("avböjt", "declined"),
    "value.withdrawn": ("återkallat", "withdrawn"),
    "value.True": ("ja", "yes"),
    "value.False": ("nej", "no"),
    "channel.phone": ("telefon", "phone"),
    "channel.visit": ("besök", "visit"),
    "channel.sms": ("sms", "SMS"),
    "target.next_in_team": ("nästa i teamet", "next in the team"),
    "target.coordinator": ("samordnare", "coordinator"),
    "target.owner": ("ansvarig", "owner"),
    "target.manager": ("chef", "manager"),
    "unit.m": ("minut|minuter", "minute|minutes"),
    "unit.h": ("timme|timmar", "hour|hours"),
    "unit.d": ("dag|dagar", "day|days"),
    "unit.w": ("vecka|veckor", "week|weeks"),
    "unit.mo": ("månad|månader", "month|months"),
    "unit.y": ("år|år", "year|years"),
    "weekdays": ("mån tis ons tor fre lör sön", "Mon Tue Wed Thu Fri Sat Sun"),
    "after": ("efter", "after"),
    "or": ("eller", "or"),
    "not": ("inte", "not"),
    "applies_to": ("Gäller", "Applies to"),
    "version": ("version", "version"),
    "when": ("villkor", "condition"),
    "source": ("källa", "source"),
    "referrals": ("lotsa till", "refer to"),
    "follow_ups": ("Uppföljningar", "Follow-ups"),
    "follow_ups.who": ("anhöriga med givet samtycke", "relatives who have given consent"),
    "follow_ups.acute": ("akuta inom", "acute within"),
    "follow_ups.channel": ("kanal", "channel"),
    "follow_up": ("Uppföljning", "Follow-up"),
    "acute": ("akut", "acute"),
    "messages": ("SMS-mallar", "SMS templates"),
    "escalation": ("Eskalering", "Escalation"),
    "escalation.ack": ("larm bekräftas inom", "dispatches are acknowledged within"),
    "escalation.then": ("annars till", "otherwise to"),
    "escalation.overdue": ("försenade uppgifter meddelas till", "overdue tasks are reported to"),
    "simulation": ("Simulering", "Simulation"),
    "incident": ("Händelse", "Incident"),
    "threat_level": ("hotbild", "threat level"),
    "activated": ("aktiverad", "activated"),
    "relatives": ("Anhöriga", "Relatives"),
    "child": ("barn", "child"),
    "adult": ("vuxen", "adult"),
    "consent": ("samtycke", "consent"),
    "none": ("inga", "none"),
    "schedule": ("Uppgifter och uppföljningar i tidsordning", "Tasks and follow-ups by deadline"),
    "deadline_when": ("Deadline", "Deadline"),
    "summary": (
        "{tasks} uppgifter och {follow_ups} uppföljningar, varav {waiting} väntar på ett datum",
        "{tasks} tasks and {follow_ups} follow-ups, {waiting} of them waiting for a date",
    ),
    "times": (
        "Tider i svensk tid (Europe/Stockholm).",
        "Times in Stockholm time (Europe/Stockholm).",
    ),
}


def label(key: str, lang: str) -> str:
    swedish, english = _LABELS[key]
    return english if lang == "en" else swedish


def text(value: Mapping[str, str] | None, lang: str) -> str:
    """A playbook text in `lang`, falling back to Swedish (always present)."""
    if not value:
        return ""
    return value.get(lang) or value["sv"]


def describe_duration(duration: Duration, lang: str) -> str:
    singular, plural = label(f"unit.{duration.unit}", lang).split("|")
    return f"{duration.amount} {singular if duration.amount == 1 else plural}"


def describe_due(due: Mapping[str, str], lang: str) -> str:
    offset = describe_duration(parse_duration(due["in"]), lang)
    return f"{offset} {label('after', lang)} {label('anchor.' + due['after'], lang)}"


def describe_condition(condition: Mapping[str, Any], lang: str) -> str:
    parts = []
    for fact, expected in condition.items():
        parts.append(f"{label('fact.' + fact, lang)}: {_describe_match(expected, lang)}")
    return "; ".join(parts)


def _describe_match(expected: Any, lang: str) -> str:
    if isinstance(expected, Mapping):
        return f"{label('not', lang)} {_describe_match(expected['not'], lang)}"
    values = expected if isinstance(expected, list) else [expected]
    return f" {label('or', lang)} ".join(_describe_value(value, lang) for value in values)


def _describe_value(value: Any, lang: str) -> str:
    key = f"value.{value}"
    return label(key, lang) if key in _LABELS else str(value)


def format_moment(moment: datetime, lang: str) -> str:
    local = moment.astimezone(CALENDAR_ZONE)
    weekday = label("weekdays", lang).split()[local.weekday()]
    return f"{local:%Y-%m-%d} {weekday} {local:%H:%M}"


# --- show ----------------------------------------------------------------------


def render_playbook(playbook: Playbook, lang: str = "sv") -> str:
    content = playbook.content
    lines = [
        text(content["title"], lang),
        f"{playbook.id}, {label('version', lang)} {playbook.version}, sha256 {playbook.content_hash[:12]}",
        f"{label('applies_to', lang)}: {', '.join(_describe_value(t, lang) for t in content['applies_to'])}",
    ]
    if "description" in content:
        lines += ["", text(content["description"], lang)]
    for phase in content["phases"]:
        lines += ["", text(phase["title"], lang)]
        for step in phase["steps"]:
            lines += _render_step(step, lang)
    if "follow_ups" in content:
        lines += ["", label("follow_ups", lang), _render_follow_ups(content["follow_ups"], lang)]
    lines += ["", label("messages", lang)]
    lines += [f"  {kind}: {text(template, lang)}" for kind, template in content["messages"].items()]
    escalation = content["escalation"]
    lines += [
        "",
        label("escalation", lang),
        f"  {label('escalation.ack', lang)} "
        f"{describe_duration(parse_duration(escalation['dispatch_ack_within']), lang)}, "
        f"{label('escalation.then', lang)}: {_targets(escalation['escalate_to'], lang)}",
        f"  {label('escalation.overdue', lang)}: {_targets(escalation['task_overdue_notify'], lang)}",
    ]
    return "\n".join(lines) + "\n"


def _render_step(step: Mapping[str, Any], lang: str) -> list[str]:
    who = [label("role." + step["role"], lang), label("category." + step["category"], lang)]
    if "agency" in step:
        who.append(label("agency." + step["agency"], lang))
    who.append(label("scope." + step.get("for_each", "incident"), lang))
    lines = [
        f"  [{describe_due(step['due'], lang)}] {text(step['title'], lang)}  ({step['id']})",
        f"      {' · '.join(who)}",
    ]
    if "when" in step:
        lines.append(f"      {label('when', lang)}: {describe_condition(step['when'], lang)}")
    lines += [f"      - {text(item, lang)}" for item in step.get("checklist", ())]
    if "suggested_referrals" in step:
        lines.append(f"      {label('referrals', lang)}: {', '.join(step['suggested_referrals'])}")
    return lines


def _render_follow_ups(schedule: Mapping[str, Any], lang: str) -> str:
    offsets = ", ".join(describe_duration(parse_duration(at), lang) for at in schedule["at"])
    line = (
        f"  {label('scope.' + schedule.get('for_each', 'relative'), lang)} "
        f"({label('follow_ups.who', lang)}): {offsets} "
        f"{label('after', lang)} {label('anchor.' + schedule['after'], lang)}"
    )
    if "acute_within" in schedule:
        line += f"; {label('follow_ups.acute', lang)} {describe_duration(parse_duration(schedule['acute_within']), lang)}"
    line += f"; {label('follow_ups.channel', lang)}: {label('channel.' + schedule.get('channel', 'phone'), lang)}"
    if "when" in schedule:
        line += f"; {label('when', lang)}: {describe_condition(schedule['when'], lang)}"
    return line


def _targets(targets: Iterable[str], lang: str) -> str:
    return ", ".join(label("target." + target, lang) for target in targets)


# --- simulate ------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    due_at: datetime | None
    anchor: str
    offset: str
    what: str
    who: str
    subject: str
    key: str


def render_simulation(playbook: Playbook, facts: Facts, planned: Plan, lang: str = "sv") -> str:
    """What an activation with these facts would create, by deadline."""
    entries = _entries(facts, planned, lang)
    known = sorted((e for e in entries if e.due_at is not None), key=lambda e: (e.due_at, e.key))
    waiting = [e for e in entries if e.due_at is None]
    lines = [
        f"{label('simulation', lang)}: {text(playbook.content['title'], lang)} "
        f"({playbook.id} v{playbook.version}, sha256 {playbook.content_hash[:12]})",
        _describe_incident(facts, lang),
        _describe_relatives(facts, lang),
        label("times", lang),
        "",
        f"{label('schedule', lang)}:",
    ]
    rows: list[tuple[str, _Entry] | str] = [(format_moment(e.due_at, lang), e) for e in known]
    for anchor in (*INCIDENT_ANCHORS, "first_contact"):
        group = sorted(
            (e for e in waiting if e.anchor == anchor),
            key=lambda e: (parse_duration(e.offset).nominal_length, e.key),
        )
        if group:
            rows += ["", f"{label('deadline_when', lang)} {label('unknown.' + anchor, lang)}:"]
            rows += [
                (
                    f"{describe_duration(parse_duration(e.offset), lang)} {label('after', lang)} "
                    f"{label('anchor.' + anchor, lang)}",
                    e,
                )
                for e in group
            ]
    lines += _table(rows)
    lines += [
        "",
        label("summary", lang).format(
            tasks=len(planned.tasks), follow_ups=len(planned.follow_ups), waiting=len(waiting)
        ),
    ]
    return "\n".join(lines) + "\n"


def _entries(facts: Facts, planned: Plan, lang: str) -> list[_Entry]:
    children = {relative.ref for relative in facts.relatives if relative.is_child}

    def subject(ref: str | None) -> str:
        if ref is None:
            return ""
        return f"{ref} ({label('child', lang)})" if ref in children else ref

    entries = [
        _Entry(
            task.due_at,
            task.anchor,
            task.offset,
            text(task.title, lang),
            label("role." + task.role, lang),
            subject(task.subject_ref),
            task.key,
        )
        for task in planned.tasks
    ]
    for follow_up in planned.follow_ups:
        what = (
            f"{label('follow_up', lang)} {describe_duration(parse_duration(follow_up.label), lang)}"
        )
        what += f" ({label('channel.' + follow_up.channel, lang)}"
        what += f", {label('acute', lang)})" if follow_up.acute else ")"
        entries.append(
            _Entry(
                follow_up.due_at,
                follow_up.anchor,
                follow_up.label,
                what,
                label("role.outreach", lang),
                subject(follow_up.relative_ref),
                follow_up.key,
            )
        )
    return entries


def _table(rows: list[tuple[str, _Entry] | str]) -> list[str]:
    """Entry rows in aligned columns; plain strings are headings."""
    entries = [row for row in rows if isinstance(row, tuple)]
    when_width = max((len(when) for when, _ in entries), default=0)
    who_width = max((len(entry.who) for _, entry in entries), default=0)
    lines = []
    for row in rows:
        if isinstance(row, str):
            lines.append(row)
            continue
        when, entry = row
        line = f"  {when:<{when_width}}  {entry.who:<{who_width}}  {entry.what}"
        lines.append(f"{line}  [{entry.subject}]" if entry.subject else line)
    return lines


def _describe_incident(facts: Facts, lang: str) -> str:
    parts = [
        _describe_value(facts.incident_type, lang),
        f"{label('fact.incident.outcome', lang)} {_describe_value(facts.outcome, lang)}",
        f"{label('threat_level', lang)} {_describe_value(facts.threat_level, lang)}",
    ]
    activated = facts.anchors.get("activation")
    if activated is not None:
        parts.append(f"{label('activated', lang)} {format_moment(activated, lang)}")
    return f"{label('incident', lang)}: {', '.join(parts)}"


def _describe_relatives(facts: Facts, lang: str) -> str:
    if not facts.relatives:
        return f"{label('relatives', lang)}: {label('none', lang)}"
    described = [
        f"{r.ref} ({label('child' if r.is_child else 'adult', lang)}, "
        f"{label('consent', lang)} {_describe_value(r.consent, lang)})"
        for r in facts.relatives
    ]
    return f"{label('relatives', lang)}: {', '.join(described)}"
