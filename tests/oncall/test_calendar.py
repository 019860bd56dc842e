"""Each user's iCalendar feed of their own shifts: parsed with the icalendar package."""

from __future__ import annotations

import re
from datetime import date, timedelta

from icalendar import Calendar

from crisis.core.db import utcnow
from crisis.oncall import services
from tests.conftest import csrf_token, login


def test_feed_lists_own_shifts_only_without_incident_data_and_can_be_revoked(
        session, app, client, create_user, create_district, create_team, create_incident):
    me = create_user("outreach", phone="+46701740660")
    colleague = create_user("outreach", phone="+46701740661")
    team = create_team(create_district(), [me, colleague], name="Jourteam Väster")
    create_incident(place="Hemlig gata 1")
    today = utcnow().astimezone(services.TZ).date()
    cycle, shifts = services.simple_rotation([me.id, colleague.id], handover="08:00", shift_days=1)
    services.save_rotation(session, team, starts_on=today - timedelta(days=1), cycle_days=cycle, shifts=shifts,
                           actor=None)
    session.commit()

    assert login(client, me.email).status_code == 302
    client.post("/account/calendar/new", data={"csrf_token": csrf_token(client, "/account")})
    page = client.get("/account").get_data(as_text=True)
    path = re.search(r'value="https?://[^/"]+(/calendar/[^"]+\.ics)"', page).group(1)
    feed = app.test_client().get(path)  # no login: the secret URL is the key
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    calendar = Calendar.from_ical(feed.data)
    shifts = [c for c in calendar.walk("VEVENT")]
    assert shifts, "my shifts are in the feed"
    assert all(str(e["SUMMARY"]) == "Jour: Jourteam Väster" for e in shifts)
    starts = sorted(e.decoded("DTSTART") for e in shifts)
    # Every other day, handing over at 08:00 Stockholm time.
    assert all(s.astimezone(services.TZ).hour == 8 for s in starts[1:])
    assert all((b - a) >= timedelta(days=2) - timedelta(hours=1) for a, b in zip(starts, starts[1:], strict=False))
    text = feed.data.decode()
    assert "Hemlig gata" not in text and colleague.name not in text and me.phone not in text

    client.post("/account/calendar/revoke", data={"csrf_token": csrf_token(client, "/account")})
    assert app.test_client().get(path).status_code == 404
    assert date.today()


def test_a_guessed_feed_url_is_not_found(app, create_user):
    user = create_user("outreach")
    assert app.test_client().get(f"/calendar/{user.id}-AAAAAAAAAAAAAAAAAAAAAAAA.ics").status_code == 404
