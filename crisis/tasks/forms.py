from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crisis.incidents import labels


class TaskUpdateForm(FlaskForm):
    version = HiddenField(validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=[(k, v) for k, v in labels.TASK_STATUSES.items() if k != "cancelled"])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])
    blocked_reason = StringField(_l("What blocks the task?"), validators=[Optional(), Length(max=200)])
