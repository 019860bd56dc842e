"""The sender's pace comes from the environment (SMS_SEND_RATE, SMS_SEND_BURST, SMS_SENDER_THREADS)."""

from __future__ import annotations

import pytest

from crisis.core.config import ConfigError, load_settings
from crisis.messaging.gateway import OutboxGateway
from crisis.messaging.sender import SenderSettings, settings_from_config


def _sender(environ: dict) -> SenderSettings:
    config = load_settings(environ).as_flask_config()
    return settings_from_config(config, OutboxGateway())


def test_the_pace_is_read_from_the_environment():
    settings = _sender({"SMS_SEND_RATE": "5.5", "SMS_SEND_BURST": "3", "SMS_SENDER_THREADS": "4"})
    assert (settings.rate_per_second, settings.burst, settings.workers) == (5.5, 3, 4)


def test_unset_means_the_defaults_and_zero_turns_pacing_off():
    defaults = SenderSettings()
    unset = _sender({})
    assert (unset.rate_per_second, unset.burst, unset.workers) == (defaults.rate_per_second, defaults.burst,
                                                                   defaults.workers)
    assert _sender({"SMS_SEND_RATE": "0"}).rate_per_second == 0


@pytest.mark.parametrize("name, value", [("SMS_SEND_RATE", "-1"), ("SMS_SEND_RATE", "fast"),
                                         ("SMS_SEND_BURST", "0"), ("SMS_SENDER_THREADS", "x")])
def test_a_bad_pace_is_refused_saying_what_to_set(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})
