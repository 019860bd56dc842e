from flask_babel import lazy_gettext as _l

ROLE_LABELS = {
    "coordinator": _l("Coordinator"),
    "outreach": _l("Outreach"),
    "manager": _l("Manager"),
    "admin": _l("Administrator"),
}


def role_label(role) -> str:
    return str(ROLE_LABELS.get(str(getattr(role, "value", role)), role))
