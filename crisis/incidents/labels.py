"""Translated labels for the incident vocabulary (one place for pages and forms)."""

from flask_babel import lazy_gettext as _l

from crisis.core.labels import register_labels

INCIDENT_TYPES = {
    "shooting": _l("Shooting"),
    "lethal_violence": _l("Lethal violence"),
    "threat_against_relatives": _l("Threats against relatives"),
}
OUTCOMES = {"none": _l("No one injured"), "injured": _l("Injured"), "deceased": _l("Deceased")}
THREAT_LEVELS = {"normal": _l("Normal"), "raised": _l("Raised"), "high": _l("High")}
INCIDENT_STATUSES = {"active": _l("Active"), "follow_up": _l("Follow-up"), "closed": _l("Closed")}
CONSENT_STATES = {"unknown": _l("Not asked yet"), "given": _l("Given"), "declined": _l("Declined"),
                  "withdrawn": _l("Withdrawn")}
CONSENT_SCOPES = {"contact": _l("Contact from social services"), "sms": _l("Contact by SMS"),
                  "share_with_school": _l("Information to school or preschool"),
                  "share_with_police": _l("Information to the police"),
                  "referral": _l("Referral to a support organisation")}
RELATIONS = {"parent": _l("Parent"), "child": _l("Child"), "sibling": _l("Sibling"), "partner": _l("Partner"),
             "grandparent": _l("Grandparent"), "other_family": _l("Other family"), "friend": _l("Friend"),
             "other": _l("Other")}
GENDERS = {"unknown": _l("Not stated"), "woman": _l("Woman"), "man": _l("Man"), "other": _l("Other")}
AGE_BANDS = {"unknown": _l("Not stated"), "0-12": "0–12", "13-17": "13–17", "18-25": "18–25",
             "26-64": "26–64", "65+": "65+"}
CHANNELS = {"phone": _l("Phone"), "sms": _l("SMS"), "visit": _l("Visit"), "letter": _l("Letter"),
            "interpreter_call": _l("Call with interpreter")}
TASK_STATUSES = {"open": _l("Open"), "in_progress": _l("In progress"), "done": _l("Done"),
                 "blocked": _l("Blocked"), "not_applicable": _l("Not applicable"), "cancelled": _l("Cancelled")}
TASK_CATEGORIES = {"outreach": _l("Outreach"), "crisis_support": _l("Crisis support"),
                   "practical_help": _l("Practical help"), "children": _l("Children"), "safety": _l("Safety"),
                   "coordination": _l("Coordination"), "referral": _l("Referral")}
AGENCIES = {"skatteverket": "Skatteverket", "pensionsmyndigheten": "Pensionsmyndigheten",
            "forsakringskassan": "Försäkringskassan", "insurer": _l("Insurer"),
            "funeral_home": _l("Funeral home"), "bank": _l("Bank"), "landlord": _l("Landlord"),
            "school": _l("School"), "brottsoffermyndigheten": "Brottsoffermyndigheten",
            "kronofogden": "Kronofogden", "police": _l("Police"), "healthcare": _l("Health care"),
            "other": _l("Other")}
LANGUAGES = {"sv": "svenska", "en": "English", "ar": "العربية", "so": "Soomaali", "ti": "ትግርኛ",
             "fa": "فارسی", "tr": "Türkçe", "pl": "polski", "fi": "suomi", "es": "español",
             "ku": "Kurdî", "bs": "bosanski", "ru": "русский", "uk": "українська"}


def label(mapping: dict, value) -> str:
    key = getattr(value, "value", value)
    return str(mapping.get(key, key))


def translated(mapping: dict) -> dict[str, str]:
    """`mapping` with its words translated now, for `label()` in a loop: a list of fifty rows
    says each word once instead of once a row (the request's catalog: crisis.core.i18n)."""
    return {key: str(value) for key, value in mapping.items()}


def choices(mapping: dict) -> list[tuple[str, str]]:
    return [(key, value) for key, value in mapping.items()]

ANCHORS = {"activation": _l("activation"), "occurred": _l("incident"), "death": _l("death"),
           "funeral": _l("funeral"), "judgment": _l("judgment"), "first_contact": _l("first contact")}


# The same words for label(group, code) everywhere (crisis.core.labels).
for _group, _words in {
    "incident_type": INCIDENT_TYPES, "outcome": OUTCOMES, "threat_level": THREAT_LEVELS,
    "incident_status": INCIDENT_STATUSES, "consent_state": CONSENT_STATES, "consent_scope": CONSENT_SCOPES,
    "relation": RELATIONS, "gender": GENDERS, "age_band": AGE_BANDS, "channel": CHANNELS,
    "task_status": TASK_STATUSES, "task_category": TASK_CATEGORIES, "agency": AGENCIES, "language": LANGUAGES,
}.items():
    register_labels(_group, _words)
