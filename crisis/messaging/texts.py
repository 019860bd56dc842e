"""The product's own SMS texts (answers to replies), in the recipient's language.

Alerts come from the playbook's templates; these few fixed answers do not
belong to any plan. They are plain text per language rather than gettext
because an SMS goes out in the recipient's language, whatever the language
of the request or job that queues it. Like every SMS they name no person
and carry no sensitive data (docs/architecture.md "Sensitive data stays in the system").
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "sv"

_TEXTS: Mapping[str, Mapping[str, str]] = {
    "ack_received": {
        "sv": "Tack, larm {ref} är bekräftat.",
        "en": "Thank you, alert {ref} is acknowledged.",
    },
    "ack_already": {
        "sv": "Larm {ref} var redan bekräftat. Inget mer behövs.",
        "en": "Alert {ref} was already acknowledged. Nothing more is needed.",
    },
    "ack_closed": {
        "sv": "Larm {ref} är avslutat och behöver ingen bekräftelse.",
        "en": "Alert {ref} is closed and needs no acknowledgement.",
    },
    "ack_nothing_open": {
        "sv": "Det finns inget öppet larm att bekräfta från detta nummer.",
        "en": "There is no open alert to acknowledge from this number.",
    },
    "ack_ambiguous": {
        "sv": "Du har flera öppna larm ({refs}). Svara OK följt av larmets referens, t.ex. OK {example}.",
        "en": "You have several open alerts ({refs}). Reply OK followed by the alert's reference, e.g. OK {example}.",
    },
    "ack_unknown_ref": {
        "sv": "Hittade inget öppet larm {ref} för detta nummer.",
        "en": "No open alert {ref} was found for this number.",
    },
    # Twilio answers its own keywords (STOP, START, HELP ...); these answer
    # the Swedish ones, which Twilio does not know (crisis.messaging.keywords).
    "opted_out": {
        "sv": "Du får inga fler SMS från Krisstöd. Svara START för att få SMS igen.",
        "en": "You will get no more SMS from Krisstöd. Reply START to receive SMS again.",
    },
    "opted_in": {
        "sv": "Du får SMS från Krisstöd igen. Svara STOPP för att avsluta.",
        "en": "You will receive SMS from Krisstöd again. Reply STOP to end them.",
    },
    "help": {
        "sv": "Krisstöd, Stockholms stad. Svara OK för att bekräfta ett larm, STOPP för att avsluta SMS.",
        "en": "Krisstöd, City of Stockholm. Reply OK to acknowledge an alert, STOP to end SMS.",
    },
}


def system_text(key: str, language: str | None, **values: str) -> str:
    texts = _TEXTS[key]
    template = texts.get(language or DEFAULT_LANGUAGE) or texts[DEFAULT_LANGUAGE]
    return template.format(**values)
