"""Form helpers shared by capabilities: local Stockholm times in, aware UTC out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField
from wtforms.validators import ValidationError

STOCKHOLM = ZoneInfo("Europe/Stockholm")


class StockholmDateTimeField(DateTimeLocalField):
    """An <input type="datetime-local"> read as Stockholm time and returned in UTC."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format="%Y-%m-%dT%H:%M", **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = self.data.replace(tzinfo=STOCKHOLM).astimezone(ZoneInfo("UTC"))

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        if isinstance(self.data, datetime):
            return self.data.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M")
        return ""


def not_in_future(form, field):
    from crisis.core.db import utcnow

    if field.data is not None and field.data > utcnow():
        raise ValidationError(_l("The time is in the future."))


def show_error(form, error, fields: tuple[str, ...] | None = None) -> None:
    """Say a service's refusal once: next to its field when the form shows that field (`fields`:
    the ones the page shows errors for; default all of the form's), else as a flash message."""
    from flask import flash

    name = getattr(error, "field", None)
    field = getattr(form, name, None) if name and form is not None else None
    if field is not None and (fields is None or name in fields):
        field.errors = [*list(field.errors), str(error)]
    else:
        flash(str(error), "error")

