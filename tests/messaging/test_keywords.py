"""Classifying inbound SMS bodies."""

from __future__ import annotations

import pytest

from crisis.messaging.keywords import InboundIntent, InboundKind, classify_inbound

ACK, OPT_OUT, OPT_IN, HELP, OTHER = (
    InboundKind.ACK,
    InboundKind.OPT_OUT,
    InboundKind.OPT_IN,
    InboundKind.HELP,
    InboundKind.OTHER,
)


@pytest.mark.parametrize(
    ("body", "kind", "ref"),
    [
        # acknowledgements
        ("OK", ACK, None),
        ("ok", ACK, None),
        ("  Ok!  ", ACK, None),
        ("OK.", ACK, None),
        ("okej", ACK, None),
        ("Ja", ACK, None),
        ("ja!!", ACK, None),
        ("1", ACK, None),
        ("klar", ACK, None),
        ("KLAR.", ACK, None),
        ("yes", ACK, None),  # YES acknowledges; see keywords module docstring
        ("Yes!", ACK, None),
        # acknowledgements with the dispatch reference
        ("OK K-17", ACK, "K-17"),
        ("ok k-17", ACK, "K-17"),
        ("OK #A7K", ACK, "A7K"),
        ("ok#a7k", ACK, "A7K"),
        ("OK: 12", ACK, "12"),
        ("ja - 2024-017", ACK, "2024-017"),
        ("1 A7K", ACK, "A7K"),
        ("Klar 17.", ACK, "17"),
        # not an acknowledgement: a false OK would stop escalation
        ("OK tack", OTHER, None),
        ("OK men jag kan inte", OTHER, None),
        ("ja kommer om 10 min", OTHER, None),
        ("inte ok", OTHER, None),
        ("nej", OTHER, None),
        ("12", OTHER, None),
        ("OKOK", OTHER, None),
        ("👍", OTHER, None),
        ("", OTHER, None),
        ("   ", OTHER, None),
        ("?!", OTHER, None),
        # Twilio's standard opt-out keywords and the Swedish ones
        ("STOP", OPT_OUT, None),
        ("stop", OPT_OUT, None),
        (" Stop. ", OPT_OUT, None),
        ("STOPALL", OPT_OUT, None),
        ("stop all", OPT_OUT, None),
        ("unsubscribe", OPT_OUT, None),
        ("Cancel", OPT_OUT, None),
        ("END", OPT_OUT, None),
        ("quit", OPT_OUT, None),
        ("revoke", OPT_OUT, None),
        ("optout", OPT_OUT, None),
        ("opt-out", OPT_OUT, None),
        ("STOPP", OPT_OUT, None),
        ("stopp!", OPT_OUT, None),
        ("Avsluta", OPT_OUT, None),
        # only a whole-message keyword counts, as in Twilio
        ("stop sending me these", OTHER, None),
        ("kan ni sluta", OTHER, None),
        # opt-in
        ("START", OPT_IN, None),
        ("start", OPT_IN, None),
        ("Unstop", OPT_IN, None),
        # help
        ("HELP", HELP, None),
        ("help?", HELP, None),
        ("info", HELP, None),
        ("hjälp", HELP, None),
        ("HJÄLP", HELP, None),
        ("Hjalp", HELP, None),
    ],
)
def test_classify_inbound(body, kind, ref):
    intent = classify_inbound(body)
    assert (intent.kind, intent.ref) == (kind, ref)


def test_classify_handles_none():
    assert classify_inbound(None) == InboundIntent(InboundKind.OTHER)


def test_decomposed_unicode_is_normalised():
    # "hja\u0308lp": ä typed as a + combining diaeresis, as some phones send it.
    assert classify_inbound("hja\u0308lp").kind == HELP


def test_intent_reports_the_matched_keyword():
    assert classify_inbound(" stop all ").keyword == "STOPALL"
    assert classify_inbound("ok k-17").keyword == "OK"


def test_kinds_compare_equal_to_plain_strings():
    assert classify_inbound("OK").kind == "ack"
    assert classify_inbound("STOPP").kind == "opt_out"
