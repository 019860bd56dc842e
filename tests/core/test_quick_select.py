"""QuickSelect writes the same <select> as WTForms' own widget, only cheaper (issue 15)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import Form, SelectField
from wtforms.validators import DataRequired

from crisis.core.forms import QuickSelectField
from crisis.incidents import labels

CHOICES = {
    "lazy": labels.choices(labels.RELATIONS),
    "mixed": [("", _l("Choose…")), ("a\"b", "Quote \" & <b>tag</b>"), ("empty", ""), ("markup", Markup("<i>x</i>")),
              ("0-12", "0–12"), ("untranslated", _l("Tom & Jerry <b>")), (Markup('m"q'), "A value as markup")],
    "ints": [(0, _l("Not stated")), (1, "Person 1"), (2, "Person <2>")],
    "bools": [(True, "Yes"), (False, "No")],
    "render_kw": [("x", "X", {"disabled": True}), ("y", "Y")],
    "groups": {"Sweden": [("sv", "svenska")], "Other": [("en", "English"), ("ar", "العربية")]},
}


def forms(choices, **field_kwargs):
    class Theirs(Form):
        field = SelectField("Field", choices=choices, **field_kwargs)

    class Ours(Form):
        field = QuickSelectField("Field", choices=choices, **field_kwargs)

    return Theirs, Ours


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("kind", sorted(CHOICES))
def test_the_same_html_as_wtforms(app, kind, language):
    choices = CHOICES[kind]
    coerce = int if kind == "ints" else str
    values = ([None] + [c[0] for group in (choices.values() if isinstance(choices, dict) else [choices])
                        for c in group])
    with app.test_request_context("/"), force_locale(language):
        for data in values:
            theirs, ours = forms(choices, coerce=coerce, validators=[DataRequired()])
            a, b = theirs(data={"field": data}), ours(data={"field": data})
            assert str(b.field()) == str(a.field()), data
            assert str(b.field(class_="wide")) == str(a.field(class_="wide")), data


def test_a_lazy_label_is_translated_once_and_in_the_request_language(app):
    with app.test_request_context("/"):
        _theirs, ours = forms(labels.choices(labels.RELATIONS))
        with force_locale("sv"):
            swedish = str(ours(data={"field": "parent"}).field())
        with force_locale("en"):
            english = str(ours(data={"field": "parent"}).field())
    assert '<option selected value="parent">Förälder</option>' in swedish
    assert '<option selected value="parent">Parent</option>' in english
