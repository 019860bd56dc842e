"""The one registry of words for the product's codes (sv and en).

Rows keep codes ("in_progress", "forsta-linjen", "share_with_school"); people
read words. Pages, exports, charts, SMS and the timeline renderers all ask
here, by group and code:

    label("task_status", "in_progress")      -> "Pågår" / "In progress"
    labels("consent_scope", ["contact", "sms"]) -> "Kontakt från socialtjänsten, Kontakt via sms"

A code that has no word yet never reaches a person raw: it comes back
humanised ("some_new_code" -> "Some new code"). A capability gives words for
its own codes with `register_labels(group, {code: lazy_gettext text})` in its
`labels` module, which the app factory imports (crisis.app.LABEL_MODULES), so
every group is known before the first page, job or command; add the Swedish to
messages.po. Referral organisations are rows with their own names:
crisis.referrals.labels.organisation_name looks them up by code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import lazy_gettext as _l

ROLES = {"coordinator": _l("Coordinator"), "outreach": _l("Outreach staff"), "manager": _l("Manager"),
         "admin": _l("Administrator")}
AVAILABILITY = {"available": _l("available"), "busy": _l("busy"), "off_duty": _l("off duty")}
DISPATCH_PURPOSES = {"incident": _l("to the scene"), "visit": _l("home visit")}
DISPATCH_STATUSES = {"pending": _l("waiting for acknowledgement"), "acknowledged": _l("acknowledged"),
                     "exhausted": _l("nobody acknowledged"), "cancelled": _l("cancelled")}
ESCALATION_REASONS = {"no_acknowledgement": _l("no acknowledgement in time"),
                      "not_delivered": _l("the alert could not be delivered"),
                      "nobody_reachable": _l("nobody in the team can be reached by SMS"),
                      "opted_out": _l("has opted out of SMS"), "no_number": _l("no mobile number"),
                      "inactive": _l("account deactivated"), "off_duty": _l("off duty")}
SMS_REFUSALS = {"opted_out": _l("has opted out of SMS"), "inactive": _l("account deactivated"),
                "no_number": _l("no mobile number"), "protected_identity": _l("protected identity"),
                "anonymised": _l("anonymised"), "no_consent": _l("no consent to SMS"),
                "empty": _l("empty text"), "refused": _l("the SMS was refused"),
                "claims_went_stale": _l("the scheduler stopped while sending"),
                "no_recipient": _l("nobody to send it to")}
FOLLOWUP_STATUSES = {"planned": _l("planned"), "reached": _l("reached"), "not_reached": _l("not reached"),
                     "declined": _l("declined further contact"), "cancelled": _l("cancelled")}
DECLINE_REASONS = {"no_need": _l("manages without more support"),
                   "support_elsewhere": _l("gets support elsewhere"),
                   "no_contact_wanted": _l("wants no contact"), "other": _l("other reason")}
RESCHEDULE_REASONS = {"relative_asked": _l("the relative asked"),
                      "owner_unavailable": _l("the responsible staff member is unavailable"),
                      "interpreter_booking": _l("interpreter booking"), "other": _l("other reason")}
INCIDENT_FACTS = {"death_at": _l("time of death"), "funeral_at": _l("funeral"), "judgment_at": _l("judgment"),
                  "threat_level": _l("threat level"), "status": _l("status"), "outcome": _l("outcome"),
                  "police_reference": _l("police reference"), "place": _l("place")}
PLAN_REASONS = {"activation": _l("activation"), "consent": _l("consent"), "first_contact": _l("first contact"),
                "relative_added": _l("a new relative"), "person_added": _l("a new person concerned"),
                "facts": _l("new facts")}
INTENTS = {"ack": _l("acknowledgement"), "opt_out": _l("stop"), "opt_in": _l("start"), "help": _l("help"),
           "other": _l("other text")}
# Why an SMS ended without reaching the phone, when the reason is ours rather than the provider's error number.
SMS_ERRORS = {"opted_out": _l("withdrawn: the recipient replied STOP"),
              "acknowledged": _l("withdrawn: someone else took the alert"),
              "cancelled": _l("withdrawn: the alert was called off"), "expired": _l("too late to be useful"),
              "refused": _l("the SMS was refused"),
              "push_ack": _l("not needed: acknowledged by push")}
ACCESS_ACTIONS = {"view": _l("opened the record"), "export": _l("exported the record"),
                  "call": _l("called from the record"), "data_subject_export": _l("register extract")}
CONSENT_METHODS = {"verbal": _l("given orally"), "written": _l("given in writing"),
                   "guardian": _l("given by a guardian")}
OPT_OUT_SOURCES = {"sms": _l("by SMS"), "provider": _l("at the SMS provider"), "admin": _l("by an administrator")}
TWO_FACTOR_REMOVAL = {"reset_by_admin": _l("reset by an administrator"), "admin": _l("reset by an administrator"),
                      "self": _l("removed by the user")}
OVERRIDE_REASONS = {"swap": _l("swapped shift"), "sick_leave": _l("sick leave"), "other": _l("other reason")}
SESSION_END_REASONS = {"sign_out_everywhere": _l("signed out everywhere"), "password_reset": _l("password reset")}

GROUPS: dict[str, dict] = {
    "role": ROLES,
    "availability": AVAILABILITY,
    "dispatch_purpose": DISPATCH_PURPOSES,
    "dispatch_status": DISPATCH_STATUSES,
    "escalation_reason": ESCALATION_REASONS,
    "sms_refusal": SMS_REFUSALS,
    "followup_status": FOLLOWUP_STATUSES,
    "decline_reason": DECLINE_REASONS,
    "reschedule_reason": RESCHEDULE_REASONS,
    "incident_fact": INCIDENT_FACTS,
    "plan_reason": PLAN_REASONS,
    "intent": INTENTS,
    "opt_out_source": OPT_OUT_SOURCES,
    "consent_method": CONSENT_METHODS,
    "access_action": ACCESS_ACTIONS,
    "sms_error": SMS_ERRORS,
    "two_factor_removal": TWO_FACTOR_REMOVAL,
    "override_reason": OVERRIDE_REASONS,
    "session_end_reason": SESSION_END_REASONS,
}


def register_labels(group: str, words: Mapping) -> None:
    """Words for a capability's own codes (keys may be enum members: their values are the codes)."""
    GROUPS[group] = {getattr(code, "value", code): text for code, text in words.items()}


def humanise(code) -> str:
    """A code nobody has given words yet, readable: "some_new_code" -> "Some new code"."""
    text = str(getattr(code, "value", code) or "").replace("_", " ").replace(".", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def label(group: str, code) -> str:
    key = getattr(code, "value", code)
    if key is None or key == "":
        return "–"
    text = GROUPS.get(group, {}).get(key)
    return str(text) if text is not None else humanise(key)


class LazyLabel:
    """A label worded when shown (in the reader's language), e.g. inside an error message raised
    before anyone knows who will read it. Lower case unless `capital`."""

    def __init__(self, group: str, code, capital: bool = False):
        self.group, self.code, self.capital = group, code, capital

    def __str__(self) -> str:
        text = label(self.group, self.code)
        return text[:1].upper() + text[1:] if self.capital else text.lower()

    def __repr__(self) -> str:
        return f"LazyLabel({self.group!r}, {getattr(self.code, 'value', self.code)!r})"


def lazy_label(group: str, code, capital: bool = False) -> LazyLabel:
    return LazyLabel(group, code, capital)


def labels(group: str, codes: Iterable | None, sep: str = ", ") -> str:
    return sep.join(label(group, code) for code in (codes or []))

