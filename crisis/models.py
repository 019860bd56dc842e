"""Every model, imported once so the metadata (and Alembic) sees the whole schema."""

from crisis.auth.models import (
    ApiToken,
    AuthSession,
    LoginThrottle,
    RecoveryCode,
    Role,
    User,
    UserRole,
)
from crisis.core.db import Base
from crisis.dispatch.models import Dispatch, DispatchAttempt
from crisis.followups.models import FollowUp
from crisis.incidents.models import (
    AffectedPerson,
    ConsentRecord,
    Incident,
    IncidentAssignment,
    Relative,
)
from crisis.messaging.models import Message, MessageStatusEvent, SmsOptOut
from crisis.oncall.models import Override, Rotation, RotationShift
from crisis.organisation.models import DefaultPlaybook, District, Team, TeamMember
from crisis.playbooks.models import PlaybookSnapshot
from crisis.push.models import PushAlert, PushSubscription
from crisis.referrals.models import Referral, SupportOrganisation
from crisis.retention.models import ExportRequest
from crisis.staff.models import AccountLink
from crisis.tasks.models import Task
from crisis.timeline.models import AccessLog, TimelineEvent

__all__ = [
    "AccessLog", "AccountLink", "AffectedPerson", "ApiToken", "AuthSession", "Base", "ConsentRecord",
    "DefaultPlaybook", "Dispatch", "DispatchAttempt", "District", "ExportRequest", "FollowUp", "Incident",
    "IncidentAssignment", "LoginThrottle", "Message", "Override", "Rotation", "RotationShift",
    "MessageStatusEvent", "PlaybookSnapshot", "PushAlert", "PushSubscription", "RecoveryCode", "Referral", "Relative", "Role",
    "SmsOptOut", "SupportOrganisation", "Task", "Team", "TeamMember", "TimelineEvent", "User",
    "UserRole",
]
