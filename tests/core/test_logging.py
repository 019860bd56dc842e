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


def test_clock_times_and_dates_are_not_taken_for_phone_numbers():
    line = "reminder due 2026-12-01 15:04:42, sent 15:05, window 2026-12-01T15:04:42.822+00:00"
    assert redact(line) == line
    assert redact("call 08-123 456 78 or 0701-23-45-67") == "call [telefon] or [telefon]"


def test_scheduler_log_lines_name_the_job(app, caplog):
    from crisis.core.logging import current_job
    from crisis.scheduler import Job, _wrap

    seen = {}

    def sweep():
        seen["job"] = current_job.get()
        logging.getLogger("crisis.test").info("swept")

    run = _wrap(app, Job("followups.reminders", 60, sweep))
    assert run.__name__ == "followups.reminders"
    with caplog.at_level(logging.INFO, logger="crisis.test"):
        run()
    assert seen["job"] == "followups.reminders"
    record = next(r for r in caplog.records if r.getMessage() == "swept")
    assert json.loads(JsonFormatter().format(record)).get("job") is None  # formatted outside the job
    token = current_job.set("dispatch.escalate")
    try:
        assert json.loads(JsonFormatter().format(record))["job"] == "dispatch.escalate"
    finally:
        current_job.reset(token)
