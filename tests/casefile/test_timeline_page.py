"""The incident timeline: every event in order, who did what, filters, and the case-review exports."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from crisis.casefile import queries
from crisis.eventtext.render import render_events
from crisis.timeline.models import TimelineEvent
from tests.casefile.conftest import RELATIVE_NAME, RELATIVE_PHONE
from tests.casefile.pdftext import pdf_text
from tests.conftest import login


def timeline(client, case, **query):
    return client.get(f"/incidents/{case.incident.id}/timeline", query_string=query)


def entry_summaries(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<p class="what">(.*?)</p>', page, flags=re.S)]


def test_every_event_in_order_with_who_did_it(app, client, session, logged_in, case):
    logged_in("manager")
    response = timeline(client, case)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    summaries = entry_summaries(page)
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == case.incident.id)
                             .order_by(TimelineEvent.occurred_at, TimelineEvent.id)).all()
    assert len(summaries) == len(events) + 2  # and the two openings of the record
    assert summaries[0].startswith(f"Insats {case.incident.reference} aktiverad")
    assert "är försenad" in summaries[-1]
    event_order = [s for s in summaries if not s.startswith("Öppnade akten")]
    with app.app_context():
        assert event_order == render_events(events, "sv", session)  # rendered when read, in Swedish
    assert case.coordinator.name in page and case.worker.name in page  # who did it
    assert "Schemaläggaren" in page  # the scheduler's own entry, in words
    assert f"Tidslinje för insats {case.incident.reference}" in page


def test_access_entries_are_merged_in_by_time_and_the_unassigned_one_is_flagged(client, logged_in, case):
    logged_in("manager")
    page = timeline(client, case).get_data(as_text=True)
    summaries = entry_summaries(page)
    openings = [i for i, s in enumerate(summaries) if s == f"Öppnade akten för {case.relative.label}"]
    assert len(openings) == 2
    assert 0 < openings[0] < len(summaries) - 1  # between the events, where it happened
    flagged = re.findall(r'<li class="timeline-entry kind-access is-flagged">(.*?)</li>', page, flags=re.S)
    assert len(flagged) == 1 and case.outsider.name in flagged[0] and "Inte tilldelad" in flagged[0]
    assert "Täcker upp för samordnaren i natt" in flagged[0]
    assert "1 öppning av en akt av personal som inte var tilldelad insatsen" in page


def test_filter_by_kind(client, logged_in, case):
    logged_in("manager")
    page = timeline(client, case, kind="relative").get_data(as_text=True)
    summaries = entry_summaries(page)
    assert summaries and all(case.relative.label in s for s in summaries)
    assert any(s.startswith(f"Samtycke från {case.relative.label}: givet (kontakt från socialtjänsten, kontakt via sms)") for s in summaries)
    page = timeline(client, case, kind=["dispatch", "message"]).get_data(as_text=True)
    assert entry_summaries(page) == [
        f"Larm (hembesök) till {case.worker.name}: {case.worker.name} larmad med sms",
        "Sms till ett nummer som inte finns i registret levererat (larm)",
    ]
    page = timeline(client, case, kind="followup").get_data(as_text=True)
    assert entry_summaries(page) == [f"Uppföljningen efter 1 dag med {case.relative.label}: nådd"]
    page = timeline(client, case, kind="access").get_data(as_text=True)
    assert entry_summaries(page) == [f"Öppnade akten för {case.relative.label}"] * 2
    page = timeline(client, case, kind="task").get_data(as_text=True)
    assert "är försenad" in entry_summaries(page)[-1]
    assert all("akten" not in s for s in entry_summaries(page))


def test_an_outreach_worker_sees_only_incidents_they_are_assigned_to(app, client, create_user, case):
    stranger = create_user("outreach")
    stranger_client = app.test_client()
    login(stranger_client, stranger.email)
    assert timeline(stranger_client, case).status_code == 403
    login(client, case.worker.email)
    response = timeline(client, case)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # The access log is for log reviewers: the worker sees neither the entries nor the filter.
    assert "Öppnade akten" not in page and 'value="access"' not in page
    assert timeline(client, case, kind="access").status_code == 200
    assert "Öppnade akten" not in timeline(client, case, kind="access").get_data(as_text=True)
    # Exports are for those who run and review responses.
    assert "Exportera PDF" not in page
    assert client.get(f"/incidents/{case.incident.id}/timeline.pdf").status_code == 403
    assert client.get(f"/incidents/{case.incident.id}/timeline.csv").status_code == 403


def test_coordinators_see_and_export_but_not_the_access_entries(client, case):
    login(client, case.coordinator.email)
    page = timeline(client, case).get_data(as_text=True)
    assert "Exportera CSV" in page and "Öppnade akten" not in page
    assert client.get(f"/incidents/{case.incident.id}/timeline.csv").status_code == 200


def test_the_timeline_needs_a_login_and_an_incident(client, logged_in, case):
    assert timeline(client, case).status_code == 302
    logged_in("manager")
    assert client.get("/incidents/999999/timeline").status_code == 404
    assert client.get("/incidents/999999/timeline.pdf").status_code == 404


def test_the_incident_page_links_to_its_timeline(client, case):
    login(client, case.coordinator.email)
    page = client.get(f"/incidents/{case.incident.id}").get_data(as_text=True)
    assert f'href="/incidents/{case.incident.id}/timeline"' in page


def test_csv_export_names_no_relative_and_holds_no_phone_number(client, logged_in, case):
    logged_in("manager")
    response = client.get(f"/incidents/{case.incident.id}/timeline.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"timeline-{case.incident.reference}-" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert RELATIVE_NAME not in text and "Lindqvist" not in text
    assert RELATIVE_PHONE not in text and "0701112233" not in text
    for staff in (case.coordinator, case.worker):
        assert staff.phone not in text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:4] == ["Tid (svensk tid)", "Slag", "Vem", "Vad"]
    flagged = [r for r in rows if r[5] == "ja"]
    assert len(flagged) == 1 and flagged[0][2] == case.outsider.name
    assert flagged[0][6] == "Täcker upp för samordnaren i natt"
    only_relatives = client.get(f"/incidents/{case.incident.id}/timeline.csv?kind=relative").get_data(as_text=True)
    kinds = {r[1] for r in list(csv.reader(io.StringIO(only_relatives.lstrip("\ufeff")), delimiter=";"))[1:]}
    assert kinds == {"Anhöriga"}


def test_pdf_export_for_a_case_review(client, logged_in, case):
    manager = logged_in("manager")
    response = client.get(f"/incidents/{case.incident.id}/timeline.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    text = pdf_text(response.data)
    assert f"Tidslinje för insats {case.incident.reference}" in text
    assert "Sekretess: socialtjänstsekretess (OSL 26 kap. 1 §)" in text
    assert "utskriven" in text and manager.name in text
    assert "INTE TILLDELAD" in text and case.outsider.name in text
    assert "Sida 1 av" in text
    assert RELATIVE_NAME not in text and RELATIVE_PHONE not in text
    assert b"DejaVu" in response.data  # the Unicode font is embedded


def test_pdf_export_works_without_the_unicode_font(client, logged_in, case, monkeypatch):
    from crisis.casefile import pdf

    monkeypatch.setattr(pdf, "FONT_DIRS", ())
    logged_in("admin")
    response = client.get(f"/incidents/{case.incident.id}/timeline.pdf?kind=incident")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert case.incident.reference in pdf_text(response.data)
    assert b"DejaVu" not in response.data


def test_entries_read_straight_from_the_service(session, case):
    entries = queries.timeline_entries(session, case.incident, include_access=False)
    assert all(e.kind != queries.ACCESS for e in entries)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    with_access = queries.timeline_entries(session, case.incident, include_access=True)
    assert len(with_access) == len(entries) + 2
    assert [e.flagged for e in with_access if e.kind == queries.ACCESS] == [False, True]


@pytest.mark.parametrize("kind", ["nonsense", ""])
def test_an_unknown_kind_shows_everything(client, logged_in, case, kind):
    logged_in("manager")
    assert len(entry_summaries(timeline(client, case, kind=kind).get_data(as_text=True))) > 5
