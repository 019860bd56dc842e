"""The coordinator's dispatch form; choices are filled per incident by the view."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

NONE = 0  # the "no choice" value of the optional selects


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DispatchForm(FlaskForm):
    target = RadioField(
        _l("Who is sent"),
        choices=[("team", _l("A team, in its on-call order")), ("staff", _l("Named staff"))],
        default="team",
    )
    team_id = SelectField(_l("Team"), coerce=int, default=NONE)
    user_ids = MultiCheckboxField(_l("Staff"), coerce=int, default=[])
    escalation_team_id = SelectField(_l("If nobody answers, continue with team"), coerce=int, default=NONE)
    purpose = RadioField(
        _l("Sent to"),
        choices=[("incident", _l("The incident")), ("visit", _l("A visit"))],
        default="incident",
    )
    task_id = SelectField(_l("The visit (task)"), coerce=int, default=NONE)

    def validate_team_id(self, field) -> None:
        if self.target.data == "team" and field.data == NONE:
            raise ValidationError(_l("Choose the team to alert."))

    def validate_user_ids(self, field) -> None:
        if self.target.data == "staff" and not field.data:
            raise ValidationError(_l("Choose at least one person."))

    def validate_task_id(self, field) -> None:
        if self.purpose.data == "visit" and field.data == NONE:
            raise ValidationError(_l("Choose the visit's task."))


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
