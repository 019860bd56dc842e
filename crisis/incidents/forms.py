from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from crisis.core.forms import QuickSelectField, StockholmDateTimeField, not_in_future
from crisis.incidents import labels

CHOOSE = ("", _l("Choose…"))


def _required():
    return [DataRequired(message=_l("Choose one."))]


class ActivateForm(FlaskForm):
    """Nothing chosen for the coordinator but the time and their own district (issue 18):
    an untouched submit must not create a real incident with a guessed outcome."""

    type = SelectField(_l("Type of incident"), choices=[CHOOSE, *labels.choices(labels.INCIDENT_TYPES)],
                       validators=_required())
    occurred_at = StockholmDateTimeField(_l("When did it happen?"), validators=[DataRequired(), not_in_future])
    district_id = SelectField(_l("District"), coerce=int, validators=[DataRequired(message=_l("Choose one."))])
    outcome = SelectField(_l("Outcome"), choices=[CHOOSE, *labels.choices(labels.OUTCOMES)],
                          validators=_required())
    death_at = StockholmDateTimeField(_l("Date of death"), validators=[Optional(), not_in_future])
    death_unknown = BooleanField(_l("Not yet known"))
    threat_level = SelectField(_l("Threat level (hotbild)"),
                               choices=[CHOOSE, *labels.choices(labels.THREAT_LEVELS)], validators=_required())
    persons = SelectField(_l("Persons hit"), coerce=int, choices=[(0, _l("Choose…"))] + [(n, str(n)) for n in range(1, 6)],
                          validators=[DataRequired(message=_l("Choose one."))])
    police_reference = StringField(_l("Police reference"), validators=[Optional(), Length(max=64)])
    place = StringField(_l("Area (never an address)"), validators=[Optional(), Length(max=200)])
    playbook_id = SelectField(_l("Playbook"), validate_choice=False)
    confirmed = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Here, not as a field validator: Optional() ends an empty field's checks before they run.
        if self.outcome.data == "deceased" and self.death_at.data is None and not self.death_unknown.data:
            self.death_at.errors = [*self.death_at.errors, _l("Give the date of death, or tick “Not yet known”.")]
            return False
        return valid


class WithdrawForm(FlaskForm):
    reason = StringField(_l("Why is the activation withdrawn?"),
                         validators=[DataRequired(), Length(min=5, max=300)])


class FactsForm(FlaskForm):
    # Named: a field without a label has WTForms read its own catalog from disk to translate
    # the default one, on every incident page (the label of a hidden field is never shown).
    version = HiddenField("Version")
    threat_level = QuickSelectField(_l("Threat level (hotbild)"), choices=labels.choices(labels.THREAT_LEVELS))
    status = QuickSelectField(_l("Status"), choices=labels.choices(labels.INCIDENT_STATUSES))
    death_at = StockholmDateTimeField(_l("Date of death"), validators=[Optional(), not_in_future])
    funeral_at = StockholmDateTimeField(_l("Funeral"), validators=[Optional()])
    judgment_at = StockholmDateTimeField(_l("Judgment (end of proceedings)"), validators=[Optional()])


class RelativeForm(FlaskForm):
    relation = QuickSelectField(_l("Relation to the person concerned"), choices=labels.choices(labels.RELATIONS))
    is_child = BooleanField(_l("Child (under 18)"))
    age_band = QuickSelectField(_l("Age"), choices=labels.choices(labels.AGE_BANDS))
    gender = QuickSelectField(_l("Gender"), choices=labels.choices(labels.GENDERS))
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    language = QuickSelectField(_l("Language"), choices=labels.choices(labels.LANGUAGES), default="sv")
    interpreter_needed = BooleanField(_l("Needs an interpreter"))
    preferred_channel = QuickSelectField(_l("Preferred contact"), choices=labels.choices(labels.CHANNELS))
    protected_identity = BooleanField(_l("Protected identity (skyddade personuppgifter)"))
    person_id = QuickSelectField(_l("Relative of"), coerce=int)


class ConsentForm(FlaskForm):
    # Nothing preselected (issue 18): one careless tap must not record consent never given.
    state = RadioField(_l("Decision"), choices=[(k, v) for k, v in labels.CONSENT_STATES.items() if k != "unknown"],
                       validators=[DataRequired(message=_l("Choose what the relative decided."))])
    scope = SelectMultipleField(_l("Consent covers"), choices=labels.choices(labels.CONSENT_SCOPES),
                                default=[], widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())
    given_by = RadioField(_l("Given by"), choices=[("relative", _l("The relative")),
                                                   ("guardian", _l("Guardian (vårdnadshavare)"))],
                          validators=[DataRequired(message=_l("Choose who decided."))])
    method = RadioField(_l("How"), choices=[("verbal", _l("Verbally")), ("written", _l("In writing"))],
                        validators=[DataRequired(message=_l("Choose how the decision was given."))])
    decided_at = StockholmDateTimeField(_l("When"), validators=[Optional(), not_in_future])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class ContactPersonForm(FlaskForm):
    user_id = SelectField(_l("Contact person"), coerce=int)


class ReferralForm(FlaskForm):
    organisation = SelectField(_l("Organisation"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class ReasonForm(FlaskForm):
    reason = StringField(_l("Why do you open this record?"), validators=[DataRequired(), Length(min=5, max=300)])


class IncidentFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    district_id = QuickSelectField(_l("District"), coerce=int, validators=[Optional()])
    type = QuickSelectField(_l("Type"), validators=[Optional()])
    status = QuickSelectField(_l("Status"), validators=[Optional()])
    start = StringField(_l("From"), validators=[Optional()])
    end = StringField(_l("To"), validators=[Optional()])
