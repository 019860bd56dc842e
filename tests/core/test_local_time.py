"""`local_time` formats as Babel's `format_datetime` does, with its patterns parsed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from babel import dates
from flask_babel import force_locale

from crisis.core.i18n import STOCKHOLM, local_time

MOMENTS = [
    datetime(2026, 3, 29, 0, 59, tzinfo=UTC),  # the last minute of winter time
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # summer time begins
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the hour that happens twice
    datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC),  # new year's day already in Stockholm
    *(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=37 * n, minutes=7 * n) for n in range(60)),
]


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("fmt", ["short", "medium", "long", "full", "d MMM yyyy HH:mm", "EEEE d MMMM"])
def test_the_same_text_as_babel(app, language, fmt):
    with app.test_request_context("/"), force_locale(language):
        for moment in MOMENTS:
            assert local_time(moment, fmt) == dates.format_datetime(moment, fmt, tzinfo=STOCKHOLM,
                                                                    locale=language), (moment, fmt)


def test_a_naive_time_is_utc_and_none_is_a_dash(app):
    with app.test_request_context("/"), force_locale("sv"):
        assert local_time(datetime(2026, 7, 1, 12, 0)) == local_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
        assert local_time(datetime(2026, 7, 1, 12, 0)).endswith("14:00")  # summer time, UTC+2
        assert local_time(None) == "–"
