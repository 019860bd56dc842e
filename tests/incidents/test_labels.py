"""labels.translated: the words of a mapping translated at once, as each would be on its own."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from crisis.incidents import labels


@pytest.mark.parametrize("language", ["sv", "en"])
def test_translated_words_are_the_words_each_label_gives(app, language):
    mappings = [labels.INCIDENT_TYPES, labels.TASK_STATUSES, labels.RELATIONS, labels.AGE_BANDS, labels.LANGUAGES,
                labels.AGENCIES, labels.ANCHORS, {"lazy_with_values": _l("%(n)s done", n=3), "plain": "Ord"}]
    with app.test_request_context("/"), force_locale(language):
        for mapping in mappings:
            words = labels.translated(mapping)
            assert words == {key: str(word) for key, word in mapping.items()}
            assert all(type(word) is str for word in words.values())
            for key in mapping:
                assert labels.label(words, key) == labels.label(mapping, key)
        assert labels.label(labels.translated(labels.TASK_STATUSES), "no_such_code") == "no_such_code"
    with app.test_request_context("/"), force_locale("sv"):
        assert labels.translated(labels.TASK_STATUSES)["done"] == "Klar"
