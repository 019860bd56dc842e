"""What an activation will do, shown before it is done (issue 18's confirmation step).

The same planner that lays out the tasks after activation (crisis.playbooks.plan)
runs here on the facts the coordinator typed, without writing anything: the
confirmation lists exactly the tasks and deadlines the activation will create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from crisis.auth.models import User
from crisis.organisation.models import District, Team
from crisis.playbooks.engine import sig_team
from crisis.playbooks.loader import Playbook
from crisis.playbooks.plan import Facts, PersonFacts, PlannedTask, plan


@dataclass
class ActivationPreview:
    tasks: list[PlannedTask]
    undated: int  # tasks whose deadline waits for a fact (death date, funeral...)
    team: Team | None
    members: list[User] = field(default_factory=list)  # in alert order: the person on call first
    on_call: User | None = None  # who is on call now (crisis.oncall), reachable or not
    on_call_problem: str | None = None  # why the person on call cannot be alerted (opted_out, off_duty…)


def preview_activation(session: Session, *, playbook: Playbook, district: District, type: str, outcome: str,
                       threat_level: str, occurred_at: datetime, now: datetime, persons: int,
                       death_at: datetime | None) -> ActivationPreview:
    facts = Facts(
        incident_type=type, outcome=outcome, threat_level=threat_level,
        anchors={"activation": now, "occurred": occurred_at, "death": death_at},
        persons=tuple(PersonFacts(ref=f"p{n}", outcome=outcome, death_at=death_at)
                      for n in range(1, persons + 1)),
    )
    planned = plan(playbook, facts).tasks
    tasks = sorted(planned, key=lambda t: (t.due_at is None, t.due_at or now, t.key))
    team = sig_team(session, district)
    on_call = problem = None
    members: list[User] = []
    if team is not None:
        from crisis.dispatch.order import alert_order, on_call_problem

        # The order a dispatch of this team would alert in (issue 12): on call, the team's order.
        members = alert_order(team, now)
        on_call, problem = on_call_problem(session, team, now)
    return ActivationPreview(tasks=tasks, undated=sum(t.due_at is None for t in tasks), team=team,
                             members=members, on_call=on_call, on_call_problem=problem)
