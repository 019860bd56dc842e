"""What an inbound SMS asks for: acknowledgement, opt-out, opt-in or help.

Only a whole-message keyword counts, as with Twilio's own keyword handling:
case, surrounding whitespace and trailing punctuation are ignored, nothing
else is. Anything longer is `other` and is shown to a person, because a false
acknowledgement is the costly mistake here: it stops the escalation of a
dispatch nobody is actually answering ("OK men jag kan inte" is not an OK).

An acknowledgement may carry the dispatch reference from the alert text
("OK A7K", "ja #12"), so a person with several open dispatches acknowledges
the right one. A reference must contain a digit; that keeps "OK tack" from
reading as a reference "TACK".

YES: Twilio's default opt-in keywords are START, YES and UNSTOP, while
"yes" is also the natural English acknowledgement. Here YES is an
acknowledgement: the product asks for "OK"/"JA" and only dispatches staff
who have not opted out, so a YES always answers an alert. Opting back in
takes START or UNSTOP, which the opt-out confirmation should name. Twilio
still forwards the YES to the inbound webhook; with a Messaging Service,
remove YES from the opt-in list under Advanced Opt-Out so Twilio's state and
ours agree.

Opt-out: Twilio's defaults (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
REVOKE, OPTOUT) are blocked by Twilio itself (later sends fail with 21610);
the Swedish STOPP and AVSLUTA are not Twilio keywords, so for those only the
app's own opt-out flag stops further messages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class InboundKind(StrEnum):
    ACK = "ack"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    OTHER = "other"


@dataclass(frozen=True)
class InboundIntent:
    kind: InboundKind
    ref: str | None = None  # dispatch reference given with an acknowledgement
    keyword: str | None = None  # the normalised keyword that matched


ACK_WORDS = frozenset({"OK", "OKEJ", "OKAY", "JA", "1", "KLAR", "YES"})
OPT_OUT_WORDS = frozenset(
    {
        # Twilio's standard opt-out keywords.
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        # Swedish; not handled by Twilio.
        "STOPP",
        "AVSLUTA",
    }
)
# YES is deliberately missing: it is an acknowledgement (see module docstring).
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO", "HJÄLP", "HJALP"})
# Spellings of one keyword as two words.
_ALIASES = {"STOP ALL": "STOPALL", "OPT OUT": "OPTOUT", "OPT-OUT": "OPTOUT"}

_KEYWORD_KINDS = {
    **{w: InboundKind.OPT_OUT for w in OPT_OUT_WORDS},
    **{w: InboundKind.OPT_IN for w in OPT_IN_WORDS},
    **{w: InboundKind.HELP for w in HELP_WORDS},
    **{w: InboundKind.ACK for w in ACK_WORDS},
}

# Punctuation, symbols and emoji around or between words carry no meaning
# for a keyword ("OK!", "Stop.", "👍 ok"); letters and digits do.
_NOISE = re.compile(r"[^\w\s#-]+", re.UNICODE)
_ACK_WITH_REF = re.compile(r"^(?P<word>\S+)\s*[\s:#-]\s*#?(?P<ref>[A-Z0-9][A-Z0-9-]*)$")


def _normalise(body: str) -> str:
    text = unicodedata.normalize("NFC", body or "")
    text = _NOISE.sub(" ", text).replace("_", " ")
    return " ".join(text.split()).upper().strip(" -#")


def classify_inbound(body: str | None) -> InboundIntent:
    """Classify an inbound SMS body; see the module docstring for the rules."""
    text = _normalise(body or "")
    if not text:
        return InboundIntent(InboundKind.OTHER)
    keyword = _ALIASES.get(text, text)
    kind = _KEYWORD_KINDS.get(keyword)
    if kind is not None:
        return InboundIntent(kind, keyword=keyword)
    match = _ACK_WITH_REF.match(text)
    if match and match["word"] in ACK_WORDS and any(c.isdigit() for c in match["ref"]):
        return InboundIntent(InboundKind.ACK, ref=match["ref"], keyword=match["word"])
    return InboundIntent(InboundKind.OTHER)
