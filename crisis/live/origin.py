"""Which pages may open the live connection: the page's own address, or PUBLIC_BASE_URL (issue 18).

A dashboard opened as http://localhost:5000 while PUBLIC_BASE_URL says
http://127.0.0.1:5000 is the same server: the browser sends the address it
loaded the page from as Origin, and that equals the Host the request came
to. Any other origin (a page on another site) is refused, so another site
still cannot ride on a logged-in user's cookie.
"""

from __future__ import annotations

from collections.abc import Callable


def _first(value: str) -> str:
    return value.split(",")[0].strip()


def request_origins(environ: dict) -> set[str]:
    """The origin the request was addressed to, directly and as the one proxy hop says (ProxyFix x=1)."""
    origins = set()
    host = environ.get("HTTP_HOST")
    scheme = environ.get("wsgi.url_scheme", "http")
    if host:
        origins.add(f"{scheme}://{host}")
    forwarded_host = environ.get("HTTP_X_FORWARDED_HOST")
    forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO")
    if forwarded_host or forwarded_proto:
        origins.add(f"{_first(forwarded_proto or scheme)}://{_first(forwarded_host or host or '')}")
    return origins


def same_origin_check(public_base_url: str) -> Callable[[str | None, dict], bool]:
    public = public_base_url.rstrip("/")

    def allowed(origin: str | None, environ: dict | None = None) -> bool:
        if not origin:
            return True  # not a browser's cross-origin request (engine.io checks only when sent)
        origin = origin.rstrip("/")
        return origin == public or origin in request_origins(environ or {})

    return allowed
