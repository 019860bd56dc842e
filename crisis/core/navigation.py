"""The top navigation: capabilities add their entries; each shows to the roles it names."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy translated string
    roles: frozenset[str]
    order: int


_ITEMS: dict[str, NavItem] = {}


def add_nav_item(endpoint: str, label, roles, order: int = 50) -> None:
    _ITEMS[endpoint] = NavItem(endpoint, label, frozenset(str(getattr(r, "value", r)) for r in roles), order)


def nav_items() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    mine = {r.value for r in current_user.roles}
    return [
        {"endpoint": item.endpoint, "label": item.label,
         "current": request.endpoint == item.endpoint}
        for item in sorted(_ITEMS.values(), key=lambda i: i.order)
        if item.roles & mine
    ]


# The phone's bottom bar (issue 18): the three places field staff go most, then "More".
# The first three a person may open, in this order, with shorter labels where the menu's are
# long; endpoints are names only (nothing imported), and absent ones are skipped.
BOTTOM_BAR = ("tasks.my_tasks", "dispatch.index", "followups.week", "live.dashboard",
              "incidents.list_incidents", "reports.index")
BOTTOM_LABELS: dict[str, object] = {
    "tasks.my_tasks": _l("My tasks"), "dispatch.index": _l("Alerts"), "followups.week": _l("Follow-ups"),
}


def bottom_nav_items() -> list[dict]:
    mine = {item["endpoint"]: item for item in nav_items()}
    chosen = [mine[e] for e in BOTTOM_BAR if e in mine][:3]
    return [{**item, "label": BOTTOM_LABELS.get(item["endpoint"], item["label"])} for item in chosen]
