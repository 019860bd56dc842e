import json
import logging

from crisis.core.logging import JsonFormatter, RedactingFilter, redact


def test_phone_numbers_and_emails_are_masked():
    text = redact("sms to +46701740605 and 070-174 06 06, cc anna.svensson@example.se")
    assert "0605" not in text and "06 06" not in text and "example.se" not in text
    assert "[telefon]" in text and "[e-post]" in text


def test_incident_references_and_ids_survive():
    assert redact("incident K7QF2 task 1234 done") == "incident K7QF2 task 1234 done"


def test_log_records_are_json_and_redacted(capsys):
    record = logging.LogRecord("crisis.test", logging.INFO, __file__, 1,
                               "dispatch to %s", ("+46701740605",), None)
    RedactingFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "dispatch to [telefon]"
    assert entry["level"] == "INFO"
