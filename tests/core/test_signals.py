"""Every signal between capabilities and who answers it, so the wiring stays visible."""

from crisis.core import signals


def _subscribers(signal) -> set[str]:
    return {f"{receiver.__module__}.{receiver.__qualname__}" for receiver in signal.receivers_for(object())}


def test_every_signal_has_exactly_the_expected_subscribers(app):
    wiring = {signal.name: _subscribers(signal) for signal in signals.ALL}
    assert wiring == {
        "sms-reply-received": {"crisis.dispatch.receivers.acknowledge_alert_by_reply"},
        "sms-not-delivered": {"crisis.dispatch.receivers.escalate_undelivered_alert"},
        "plan-laid-out": {"crisis.tasks.receivers.reconcile_tasks", "crisis.followups.receivers.reconcile_follow_ups"},
        "sessions-ended": {"crisis.live.receivers.close_sockets_of_ended_sessions"},
    }


def test_the_signal_list_names_every_signal_declared():
    declared = {value for value in vars(signals).values() if hasattr(value, "receivers_for")}
    assert declared == set(signals.ALL)
