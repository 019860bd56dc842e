from datetime import UTC, datetime, timedelta

import pytest


@pytest.fixture
def response_setup(session, create_district, create_user, create_team):
    """A district with its own SIG team, a coordinator and two outreach workers."""
    district = create_district("farsta", has_own_sig=True, name="Farsta")
    served = create_district("sodermalm", has_own_sig=False, served_by=district, name="Södermalm")
    coordinator = create_user("coordinator", district=district, phone="+46701740605")
    workers = [create_user("outreach", district=district, phone=f"+4670174061{i}") for i in range(2)]
    team = create_team(district, workers, name="SIG Farsta")
    return {"district": district, "served": served, "coordinator": coordinator, "workers": workers,
            "team": team}


@pytest.fixture
def activate(session, response_setup):
    from crisis.incidents.services import activate_incident

    def factory(type="shooting", playbook_id="stockholm-skjutning", outcome="injured", **kwargs):
        incident = activate_incident(
            session, actor=response_setup["coordinator"], type=type, playbook_id=playbook_id,
            outcome=outcome, occurred_at=kwargs.pop("occurred_at", datetime.now(UTC) - timedelta(hours=1)),
            district_id=kwargs.pop("district_id", response_setup["district"].id), **kwargs,
        )
        session.commit()
        return incident

    return factory
