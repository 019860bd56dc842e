"""Read-only playbook pages: managers review the plan as a timeline."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crisis.auth.models import Role
from crisis.auth.permissions import roles_required
from crisis.core.navigation import add_nav_item
from crisis.playbooks import render
from crisis.playbooks.durations import parse_duration
from crisis.playbooks.engine import PlaybookNotFound, available_playbooks, find_playbook

bp = Blueprint("playbooks", __name__, template_folder="templates")

add_nav_item("playbooks.list_playbooks", _l("Playbooks"), [Role.COORDINATOR, Role.MANAGER, Role.ADMIN], 40)

VIEWERS = (Role.COORDINATOR, Role.MANAGER, Role.ADMIN)


def _lang() -> str:
    lang = str(get_locale() or "sv")
    return lang if lang in render.LANGUAGES else "sv"


@bp.get("/playbooks")
@roles_required(*VIEWERS)
def list_playbooks():
    return render_template("playbooks/list.html", playbooks=available_playbooks())


@bp.get("/playbooks/<playbook_id>")
@roles_required(*VIEWERS)
def show_playbook(playbook_id: str):
    try:
        playbook = find_playbook(playbook_id)
    except PlaybookNotFound:
        abort(404, _("No such playbook."))
    lang = _lang()
    phases = []
    for phase in playbook.content["phases"]:
        steps = sorted(phase["steps"], key=lambda s: (s["due"]["after"] != "activation",
                                                      parse_duration(s["due"]["in"]).nominal_length))
        phases.append({"phase": phase, "steps": [
            {"step": step, "due": render.describe_due(step["due"], lang),
             "when": render.describe_condition(step.get("when", {}), lang) if step.get("when") else "",
             "role": render.label(f"role.{step['role']}", lang),
             "category": render.label(f"category.{step['category']}", lang),
             "agency": render.label(f"agency.{step['agency']}", lang) if step.get("agency") else "",
             "for_each": step.get("for_each", "incident")}
            for step in steps]})
    follow_ups = playbook.content.get("follow_ups")
    return render_template(
        "playbooks/show.html", playbook=playbook, phases=phases, lang=lang,
        follow_up_offsets=[render.describe_duration(parse_duration(t), lang) for t in follow_ups["at"]]
        if follow_ups else [],
        follow_ups=follow_ups,
    )
