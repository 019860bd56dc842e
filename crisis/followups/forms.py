"""Forms for follow-up outcomes and new dates (validated here; the HTML is in the templates,
since one page may hold the forms of several follow-ups)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crisis.core.forms import StockholmDateTimeField
from crisis.followups.services import (
    NOTE_MAX_LENGTH,
    DeclineReason,
    FollowUpOutcome,
    RescheduleReason,
)
from crisis.incidents import labels

OUTCOMES = {
    FollowUpOutcome.REACHED.value: _l("Reached"),
    FollowUpOutcome.NOT_REACHED.value: _l("Not reached: try again next working day"),
    FollowUpOutcome.DECLINED.value: _l("Declined further contact"),
}
DECLINE_REASONS = {
    DeclineReason.NO_NEED.value: _l("Manages without more support"),
    DeclineReason.SUPPORT_ELSEWHERE.value: _l("Gets support elsewhere"),
    DeclineReason.NO_CONTACT_WANTED.value: _l("Does not want contact"),
    DeclineReason.OTHER.value: _l("Other reason"),
}
RESCHEDULE_REASONS = {
    RescheduleReason.RELATIVE_ASKED.value: _l("The relative asked for another time"),
    RescheduleReason.OWNER_UNAVAILABLE.value: _l("I am not available then"),
    RescheduleReason.INTERPRETER_BOOKING.value: _l("Waiting for an interpreter"),
    RescheduleReason.OTHER.value: _l("Other reason"),
}
STATUSES = {
    "planned": _l("Planned"),
    "not_reached": _l("Not reached, new attempt planned"),
    "reached": _l("Reached"),
    "declined": _l("Declined further contact"),
    "cancelled": _l("Cancelled"),
}
CANCEL_REASONS = {
    "relative_declined_further_contact": _l("the relative declined further contact"),
    "condition_no_longer_holds": _l("the playbook no longer asks for it (e.g. consent withdrawn)"),
}


class OutcomeForm(FlaskForm):
    version = HiddenField()
    next = HiddenField()
    outcome = RadioField(_l("Outcome"), choices=list(OUTCOMES.items()), validators=[DataRequired()])
    decline_reason = SelectField(_l("Why they declined"), choices=[("", "–"), *DECLINE_REASONS.items()],
                                 validators=[Optional()])
    channel = SelectField(_l("How"), choices=[("", "–"), *labels.choices(labels.CHANNELS)],
                          validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX_LENGTH)])


class RescheduleForm(FlaskForm):
    version = HiddenField()
    next = HiddenField()
    due_at = StockholmDateTimeField(_l("New date and time"), validators=[DataRequired()])
    reason = SelectField(_l("Why"), choices=list(RESCHEDULE_REASONS.items()), validators=[DataRequired()])
