"""Links for the rows of a list: `url_for` worked out once for the list, not once for each row.

Werkzeug builds a URL by matching the endpoint's rules and converting every value, about
25 µs each time; a page of fifty tasks with a link and a form each spent 2.5 ms on it.
`row_url(endpoint, key)` builds the URL once with a marker id and gives back a function that
puts each row's id where the marker was. It is checked against a second `url_for` and, should
the two ever differ (a rule that formats its ids otherwise), every row goes through `url_for`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import url_for

_MARKER = 918_273_645  # an id no rule's other parts contain
_CHECK = 24_680


def row_url(endpoint: str, key: str, **values) -> Callable[[int], str]:
    """A function of a row's id giving `url_for(endpoint, **values, **{key: id})`."""

    def slow(ident) -> str:
        return url_for(endpoint, **values, **{key: ident})

    head, marker, tail = slow(_MARKER).partition(str(_MARKER))
    if not marker or str(_MARKER) in tail or slow(_CHECK) != f"{head}{_CHECK}{tail}":
        return slow

    def build(ident) -> str:
        if type(ident) is int and ident >= 0:
            return f"{head}{ident}{tail}"
        return slow(ident)  # what url_for makes of anything else (or its BuildError)

    return build
