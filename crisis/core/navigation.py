"""The top navigation: capabilities add their entries; each shows to the roles it names."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
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
