"""Rota arithmetic in Europe/Stockholm: handovers keep their wall-clock time across DST; gaps,
overlaps and overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from crisis.oncall import services
from crisis.oncall.services import RotaError, ShiftSpec, on_call_schedule, who_is_on_call


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def team_of_two(session, create_district, create_user, create_team):
    a, b, c = (create_user("outreach", phone=f"+4670174060{i}") for i in range(3))
    team = create_team(create_district(), [a, b])
    return team, a, b, c


def save_daily(session, team, users, starts_on, handover="08:00"):
    cycle, shifts = services.simple_rotation([u.id for u in users], handover=handover, shift_days=1)
    services.save_rotation(session, team, starts_on=starts_on, cycle_days=cycle, shifts=shifts, actor=None)
    session.commit()


def test_spring_forward_shift_is_23_hours_and_handover_stays_at_eight(session, team_of_two):
    team, a, b, _c = team_of_two
    save_daily(session, team, [a, b], date(2027, 3, 27))  # 28 March 2027: clocks go 02:00 -> 03:00
    # Saturday 08:00 CET = 07:00 UTC; Sunday 08:00 CEST = 06:00 UTC.
    assert who_is_on_call(session, team, utc(2027, 3, 27, 7, 0)) == a
    assert who_is_on_call(session, team, utc(2027, 3, 28, 5, 59)) == a
    assert who_is_on_call(session, team, utc(2027, 3, 28, 6, 0)) == b
    schedule = on_call_schedule(session, team, utc(2027, 3, 27, 7, 0), days=2)
    assert [(s.user, s.ends_at - s.starts_at) for s in schedule][:2] == [(a, timedelta(hours=23)),
                                                                          (b, timedelta(hours=24))]


def test_fall_back_shift_is_25_hours(session, team_of_two):
    team, a, b, _c = team_of_two
    save_daily(session, team, [a, b], date(2027, 10, 30))  # 31 October 2027: clocks go 03:00 -> 02:00
    assert who_is_on_call(session, team, utc(2027, 10, 31, 6, 59)) == a  # 07:59 CET
    assert who_is_on_call(session, team, utc(2027, 10, 31, 7, 0)) == b   # 08:00 CET
    first = on_call_schedule(session, team, utc(2027, 10, 30, 6, 0), days=2)[0]
    assert (first.user, first.starts_at, first.ends_at) == (a, utc(2027, 10, 30, 6, 0), utc(2027, 10, 31, 7, 0))
    assert first.ends_at - first.starts_at == timedelta(hours=25)


def test_rota_repeats_and_schedule_covers_fourteen_days_without_holes(session, team_of_two):
    team, a, b, _c = team_of_two
    save_daily(session, team, [a, b], date(2027, 3, 20))
    start = utc(2027, 3, 21, 12, 0)
    schedule = on_call_schedule(session, team, start, days=14)
    assert schedule[0].starts_at == start and schedule[-1].ends_at == start + timedelta(days=14)
    assert all(x.ends_at == y.starts_at for x, y in zip(schedule, schedule[1:], strict=False))
    assert [s.user for s in schedule[:4]] == [b, a, b, a]  # 21 March is day 2 of a 2-day cycle
    assert who_is_on_call(session, team, utc(2027, 4, 30, 12, 0)) == (a if (date(2027, 4, 30) - date(2027, 3, 20)).days % 2 == 0 else b)


def test_rota_not_yet_started_has_nobody(session, team_of_two):
    team, a, b, _c = team_of_two
    save_daily(session, team, [a, b], date(2027, 3, 20))
    assert who_is_on_call(session, team, utc(2027, 3, 19, 12, 0)) is None


def test_a_gap_is_refused_with_the_hours(session, team_of_two):
    team, a, b, _c = team_of_two
    shifts = [ShiftSpec(8 * 60, 20 * 60, a.id), ShiftSpec(21 * 60, 32 * 60, b.id)]
    with pytest.raises(RotaError) as error:
        services.save_rotation(session, team, starts_on=date(2027, 1, 4), cycle_days=1, shifts=shifts, actor=None)
    assert error.value.problems == ["gap: nobody is on call from day 1 20:00 to day 1 21:00"]


def test_an_overlap_is_refused_with_the_hours(session, team_of_two):
    team, a, b, _c = team_of_two
    shifts = [ShiftSpec(8 * 60, 22 * 60, a.id), ShiftSpec(20 * 60, 32 * 60, b.id)]
    with pytest.raises(RotaError) as error:
        services.save_rotation(session, team, starts_on=date(2027, 1, 4), cycle_days=1, shifts=shifts, actor=None)
    assert "overlap: two people are on call from day 1 20:00 to day 1 22:00" in error.value.problems


def test_a_cycle_end_gap_is_named(session, team_of_two):
    team, a, b, _c = team_of_two
    shifts = [ShiftSpec(8 * 60, 32 * 60, a.id), ShiftSpec(32 * 60, 50 * 60, b.id)]  # 2-day cycle, 6 h short
    with pytest.raises(RotaError) as error:
        services.save_rotation(session, team, starts_on=date(2027, 1, 4), cycle_days=2, shifts=shifts, actor=None)
    assert error.value.problems == ["gap: nobody is on call from day 3 02:00 to day 3 08:00 "
                                    "(the cycle repeats after 2 days)"]


def test_rota_text_round_trip(session, team_of_two):
    team, a, b, _c = team_of_two
    text = f"day 1 08:00 - day 1 20:00 {a.email}\nday 1 20:00 - day 2 08:00 {b.email}\n"
    shifts = services.parse_rota_text(session, text)
    rotation = services.save_rotation(session, team, starts_on=date(2027, 1, 4), cycle_days=1, shifts=shifts,
                                      actor=None)
    assert services.rota_text(rotation) == text.strip()
    with pytest.raises(RotaError) as error:
        services.parse_rota_text(session, "day 1 08:00 - day 2 08:00 nobody@example.se\nnonsense")
    assert error.value.problems == ["line 1: no staff with e-mail nobody@example.se",
                                    "line 2: write 'day 1 08:00 - day 2 08:00 name@example.se'"]


def test_override_wins_and_splits_the_schedule(session, team_of_two):
    team, a, b, c = team_of_two
    save_daily(session, team, [a, b], date(2027, 3, 27))
    # Sick leave: c covers 12:00-18:00 Stockholm time on 28 March (CEST, UTC+2).
    services.add_override(session, team, user=c, starts_at=utc(2027, 3, 28, 10), ends_at=utc(2027, 3, 28, 16),
                          reason="sick_leave", actor=None)
    session.commit()
    assert who_is_on_call(session, team, utc(2027, 3, 28, 12)) == c
    assert who_is_on_call(session, team, utc(2027, 3, 28, 16)) == b
    schedule = on_call_schedule(session, team, utc(2027, 3, 28, 6), days=1)
    assert [(s.user, s.source, s.starts_at.hour, s.ends_at.hour) for s in schedule] == [
        (b, "rota", 6, 10), (c, "override", 10, 16), (b, "rota", 16, 6)]


def test_overlapping_overrides_are_refused_with_stockholm_hours(session, team_of_two):
    team, a, _b, c = team_of_two
    services.add_override(session, team, user=c, starts_at=utc(2027, 1, 10, 17), ends_at=utc(2027, 1, 11, 7),
                          actor=None)
    with pytest.raises(RotaError) as error:
        services.add_override(session, team, user=a, starts_at=utc(2027, 1, 11, 5), ends_at=utc(2027, 1, 11, 9),
                              actor=None)
    assert error.value.problems == ["overlap: another override already covers 2027-01-11 06:00 to "
                                    "2027-01-11 08:00 (Stockholm time)"]


def test_team_without_rota_has_nobody_on_call(session, team_of_two):
    team, *_ = team_of_two
    assert who_is_on_call(session, team) is None
    assert on_call_schedule(session, team) == []


def test_api_sets_a_rota_refuses_a_gap_and_adds_an_override(session, client, team_of_two, create_user):
    from crisis.auth.services import create_token

    team, a, b, c = team_of_two
    team_id, a_id, b_id, c_id = team.id, a.id, b.id, c.id
    coordinator = create_user("coordinator")
    outreach_token = create_token(session, a).token
    token = create_token(session, coordinator).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    gap = client.put(f"/api/v1/teams/{team_id}/rota", headers=headers, json={
        "starts_on": "2027-01-04", "cycle_days": 1,
        "shifts": [{"start": "day 1 08:00", "end": "day 1 20:00", "user_id": a_id},
                   {"start": "day 1 21:00", "end": "day 2 08:00", "user_id": b_id}]})
    assert gap.status_code == 422
    assert gap.json["detail"] == "lucka: ingen har jour från dag 1 20:00 till dag 1 21:00"  # Swedish first
    english = client.put(f"/api/v1/teams/{team_id}/rota", headers={**headers, "Accept-Language": "en"}, json={
        "starts_on": "2027-01-04", "cycle_days": 1,
        "shifts": [{"start": "day 1 08:00", "end": "day 1 20:00", "user_id": a_id},
                   {"start": "day 1 21:00", "end": "day 2 08:00", "user_id": b_id}]})
    assert english.status_code == 422
    assert english.json["detail"] == "gap: nobody is on call from day 1 20:00 to day 1 21:00"
    assert english.json["errors"] == [{"field": None, "message": english.json["detail"]}]
    ok = client.put(f"/api/v1/teams/{team_id}/rota", headers=headers, json={
        "starts_on": "2027-01-04", "cycle_days": 1,
        "shifts": [{"start": "day 1 08:00", "end": "day 1 20:00", "user_id": a_id},
                   {"start": "day 1 20:00", "end": "day 2 08:00", "user_id": b_id}]})
    assert ok.status_code == 200, ok.json
    assert ok.json["shifts"][1] == {"start": "day 1 20:00", "end": "day 2 08:00", "user_id": b_id}
    override = client.post(f"/api/v1/teams/{team_id}/overrides", headers=headers, json={
        "user_id": c_id, "starts_at": "2027-01-05T20:00:00+01:00", "ends_at": "2027-01-06T08:00:00+01:00",
        "reason": "sick_leave"})
    assert override.status_code == 201
    from crisis.organisation.models import Team

    assert who_is_on_call(session, session.get(Team, team_id), utc(2027, 1, 5, 22)).id == c_id
    refused = client.put(f"/api/v1/teams/{team_id}/rota", headers={"Authorization": f"Bearer {outreach_token}"},
                         json={"starts_on": "2027-01-04", "cycle_days": 1, "shifts": []})
    assert refused.status_code == 403


def test_rota_problems_read_in_swedish_in_a_swedish_request(app, session, team_of_two):
    from flask_babel import force_locale

    with pytest.raises(RotaError) as error:
        services.parse_rota_text(session, "day 1 08:00 - day 1 25:00 nobody@example.se")
    with app.test_request_context(), force_locale("sv"):
        assert str(error.value) == "rad 1: 'day 1 25:00' är ingen tid i cykeln; skriv t.ex. 'dag 2 08:00'"
        assert str(services.rota_problems(1, [ShiftSpec(0, 600, 1)])[0]) == \
            "lucka: ingen har jour från dag 1 10:00 till dag 2 00:00 (cykeln upprepas efter 1 dagar)"
    with app.test_request_context(), force_locale("en"):
        assert str(error.value) == "line 1: 'day 1 25:00' is not a time in the cycle; write e.g. 'day 2 08:00'"


def test_api_refusals_follow_accept_language(session, client, team_of_two, create_user):
    from crisis.auth.services import create_token

    team, a, _b, _c = team_of_two
    team_id = team.id
    token = create_token(session, create_user("coordinator")).token
    session.commit()
    body = {"user_id": 987654, "starts_at": "2027-01-11T05:00:00+00:00", "ends_at": "2027-01-11T09:00:00+00:00"}
    swedish = client.post(f"/api/v1/teams/{team_id}/overrides", headers={"Authorization": f"Bearer {token}"},
                          json=body)
    assert swedish.status_code == 422 and swedish.json["detail"] == "user_id ska ange en person i personalen."
    english = client.post(f"/api/v1/teams/{team_id}/overrides", json=body,
                          headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert english.status_code == 422 and english.json["detail"] == "user_id names a member of staff."
    missing = client.put("/api/v1/teams/987654/rota", headers={"Authorization": f"Bearer {token}"}, json={})
    assert missing.status_code == 404 and missing.json["detail"] == "Det finns inget team med id 987654."
