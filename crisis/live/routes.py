"""The live dashboard page (lägesbild) and the fragments it refreshes without a reload.

Coordinators, managers and admins see every active incident and the teams'
availability; outreach staff see the incidents they are assigned to. The
page is complete without JavaScript; live.js keeps it current over the
`/live` Socket.IO namespace.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.routing import BuildError

from crisis.auth.models import Role
from crisis.auth.permissions import login_required, roles_required
from crisis.core.db import db, utcnow
from crisis.core.navigation import add_nav_item
from crisis.core.urls import row_url
from crisis.incidents import labels
from crisis.incidents.access import can_view_incident
from crisis.incidents.models import Incident
from crisis.live import dashboard
from crisis.live import publish as _publish  # noqa: F401  (registers the publisher)
from crisis.live import sockets as _sockets  # noqa: F401  (registers the /live namespace)
from crisis.live.dashboard import DASHBOARD_ROLES, RESYNC_OVERLAP
from crisis.live.rooms import NAMESPACE

bp = Blueprint("live", __name__, template_folder="templates")

add_nav_item("live.dashboard", _l("Situation picture"), list(Role), order=1)

AVAILABILITY_LABELS = {"available": _l("Available"), "busy": _l("Busy"), "off_duty": _l("Off duty"),
                       "on_the_way": _l("On the way")}


@bp.app_template_global()
def availability_label(value) -> str:
    return str(AVAILABILITY_LABELS.get(getattr(value, "value", value), value))


@bp.app_template_global()
def incident_href(incident_id: int) -> str | None:
    """The incident's page, if that capability is installed (worked out once for a page of cards)."""
    build = g.get("incident_href")
    if build is None:
        try:
            build = row_url("incidents.show", "incident_id")
        except BuildError:
            build = _no_link
        g.incident_href = build
    return build(incident_id)


def _no_link(_incident_id: int) -> None:
    return None


# Many people watch the same incidents, and a card changes only when what it shows does (an
# event changes a figure): its HTML is rendered once for what it shows, in each language, and
# kept for the next page and the next viewer. The key is everything the card shows (the card
# shows nothing that depends on who looks, and access decides which cards a viewer gets).
CARD_CACHE_SIZE = 2048


@bp.app_template_global()
def card_html(card: dashboard.IncidentCard) -> Markup:
    """One incident's card (live/_card.html), rendered once for what it shows and the language
    (the app's own cache: another app in the process may link its cards otherwise)."""
    return current_app.extensions["live_cards"](str(get_locale() or "sv"), request.script_root, card.shown())


def _render_card(language: str, script_root: str, shown: tuple) -> Markup:
    card = dashboard.IncidentCard.from_shown(shown)
    return Markup(render_template("live/_card.html", card=card, labels=labels, label=labels.label).strip())


@bp.record_once
def _card_cache(state) -> None:
    state.app.extensions["live_cards"] = lru_cache(maxsize=CARD_CACHE_SIZE)(_render_card)


@bp.app_template_global()
def card_words() -> dict[str, str]:
    """The words every incident card shows, translated once for a page of cards."""
    return {
        "open_tasks": _("Open tasks"),
        "overdue_tasks": _("Overdue tasks"),
        "relatives_reached": _("Relatives reached"),
        "dispatches_acknowledged": _("Dispatches acknowledged"),
        "waiting": _("Waiting for acknowledgement"),
        "nobody": _("Nobody acknowledged"),
        "blocked": _("Blocked tasks"),
        "activated": _("Activated"),
    }


def _summaries(events) -> dict[int, str]:
    """Each feed event's sentence in the reader's language (crisis.eventtext.render)."""
    from flask_babel import get_locale

    from crisis.eventtext.render import render_events

    return {e.id: s for e, s in zip(events, render_events(events, str(get_locale() or "sv"), db.session),
                                    strict=True)}


@bp.get("/dashboard", endpoint="dashboard")
@login_required
def show_dashboard():
    now = utcnow()
    everything = dashboard.sees_everything(current_user)
    search = (request.args.get("q") or "").strip()[:100]
    total = dashboard.count_active(db.session, current_user, search)
    pages = max(1, -(-total // dashboard.PAGE_SIZE))
    try:
        page = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        page = 1
    cards = dashboard.incident_cards(db.session, current_user, now=now, limit=dashboard.PAGE_SIZE,
                                     offset=(page - 1) * dashboard.PAGE_SIZE, search=search)
    events = dashboard.recent_events(db.session, current_user)
    known = {c.id: c.reference for c in cards}
    missing = {e.incident_id for e in events if e.incident_id is not None} - set(known)
    if missing:
        known.update(db.session.execute(
            select(Incident.id, Incident.reference).where(Incident.id.in_(missing))).tuples().all())
        # (.all(): a Result has .keys(), which dict.update would take for a mapping's.)
    return render_template(
        "live/dashboard.html",
        cards=cards,
        total=total,
        page=page,
        pages=pages,
        search=search,
        teams=dashboard.team_availability(db.session) if everything else None,
        events=events,
        summaries=_summaries(events),
        references=known,
        sees_everything=everything,
        resume_after=dashboard.resume_after(db.session, current_user, now),
        overlap_seconds=int(RESYNC_OVERLAP.total_seconds()),
        namespace=NAMESPACE,
        labels=labels,
        label=labels.label,
    )


@bp.get("/dashboard/incidents/<int:incident_id>/card")
@login_required
def incident_card(incident_id: int):
    """One incident's card, fetched by live.js after an event of that incident."""
    incident = db.session.get(Incident, incident_id) if incident_id <= 2**31 - 1 else None
    if incident is None:
        abort(404, _("No such incident."))
    if not can_view_incident(db.session, current_user, incident):
        abort(403, _("You are not assigned to this incident."))
    (card,) = dashboard.incident_cards(db.session, current_user, incident_ids=[incident_id])
    return card_html(card)


@bp.get("/dashboard/teams")
@roles_required(*DASHBOARD_ROLES)
def teams_fragment():
    """The team availability section, fetched by live.js after a staff event."""
    return render_template("live/_teams.html", teams=dashboard.team_availability(db.session))
