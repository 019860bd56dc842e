"""Swedish first, English second (docs/architecture.md "Swedish first"); times shown in Europe/Stockholm."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, dates
from flask import g, has_request_context, request, session
from flask_babel import Domain, get_locale
from flask_login import current_user

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
TRANSLATIONS_DIR = Path(__file__).resolve().parents[1] / "translations"


LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    if not has_request_context():  # a command, the scheduler: Swedish first
        return DEFAULT_LANGUAGE
    if request.path.startswith("/api/"):  # the API answers per Accept-Language, else the token user's language
        return api_language()
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    # The language last chosen on this browser, kept across logins (issue 18).
    if request and request.cookies.get(LANGUAGE_COOKIE) in LANGUAGES:
        return request.cookies[LANGUAGE_COOKIE]
    if getattr(current_user, "is_authenticated", False) and current_user.language in LANGUAGES:
        return current_user.language
    # Swedish by default: a Stockholm city service, whatever the browser was set up with.
    return DEFAULT_LANGUAGE


def api_language() -> str:
    """The language of an API answer: the request's Accept-Language when it names sv or en,
    else the (token) user's language, else Swedish. A browser session's chosen language first."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if request and request.headers.get("Accept-Language"):
        best = request.accept_languages.best_match(LANGUAGES)
        if best in LANGUAGES:
            return best
    if getattr(current_user, "is_authenticated", False) and current_user.language in LANGUAGES:
        return current_user.language
    return DEFAULT_LANGUAGE


def compile_translations() -> None:
    """Compile .po catalogs to .mo when missing or stale (no build step needed)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)


class RequestCatalogDomain(Domain):
    """Flask-Babel's message domain, finding the catalog once per request and locale.

    Flask-Babel looks the catalog up again for every string, walking four context locals
    each time; a page translates a few hundred strings (its words, its lazy labels, the
    offline texts) and the lookups were a fifth of "Mina uppgifter"'s CPU (issue 15).
    The catalog is the one Flask-Babel would return; `force_locale` (which swaps the
    locale) is honoured, because the cached catalog is tied to its locale object.
    """

    def get_translations(self):
        if not has_request_context():
            return super().get_translations()
        babel_context = g.get("_flask_babel")
        locale = getattr(babel_context, "babel_locale", None)
        cached = g.get("_crisis_catalog")
        if cached is not None and locale is not None and cached[0] is locale:
            return cached[1]
        translations = super().get_translations()
        g._crisis_catalog = (get_locale(), translations)
        return translations


def install_request_catalog(app, babel) -> None:
    """Python code, lazy strings and templates translate through `RequestCatalogDomain`."""
    domain = RequestCatalogDomain(domain=app.config.get("BABEL_DOMAIN", "messages"))
    babel.domain_instance = domain  # Flask-Babel's (cached) default domain, replaced
    catalog = domain.get_translations
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: catalog().ugettext(s),
        ngettext=lambda s, p, n: catalog().ungettext(s, p, n),
        pgettext=lambda c, s: catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: catalog().unpgettext(c, s, p, n),
        newstyle=True,
    )


def local_time(value: datetime | None, fmt: str = "short") -> str:
    """`value` in Stockholm time, in the request's language ("short": 2026-12-01 22:05).

    Babel directly, as Flask-Babel's `format_datetime` would call it with this app's
    settings (BABEL_DEFAULT_TIMEZONE is Stockholm), without its per-call lookups of
    the app's configuration: a list of a hundred tasks formats a hundred times.
    A naive `value` is UTC.
    """
    if value is None:
        return "–"
    pattern, locale = _datetime_pattern(str(get_locale() or DEFAULT_LANGUAGE), fmt)
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return pattern.apply(moment.astimezone(STOCKHOLM), locale)


@lru_cache(maxsize=64)
def _datetime_pattern(language: str, fmt: str) -> tuple[dates.DateTimePattern, Locale]:
    """The pattern `dates.format_datetime(value, fmt, locale=language)` formats with, parsed once.

    For a named format ("short", "medium", ...) Babel formats the date and the time each with
    its own pattern and joins them with the locale's date-time format ("{1} {0}") every call,
    a tenth of a millisecond: a page of fifty tasks spent five on it. The same three patterns
    joined into one, quoted literal text kept, give the same text (tests/core/test_local_time.py).
    """
    locale = Locale.parse(language)
    if fmt in ("full", "long", "medium", "short"):
        combined = (str(dates.get_datetime_format(fmt, locale=locale))
                    .replace("{0}", str(dates.get_time_format(fmt, locale=locale).pattern))
                    .replace("{1}", str(dates.get_date_format(fmt, locale=locale).pattern)))
        return dates.parse_pattern(combined), locale
    return dates.parse_pattern(fmt), locale


def lang_text(mapping: dict | None, lang: str | None = None) -> str:
    """Pick a language from a {"sv": ..., "en": ...} map, falling back to Swedish."""
    if not mapping:
        return ""
    lang = lang or str(get_locale() or DEFAULT_LANGUAGE)
    return mapping.get(lang) or mapping.get(DEFAULT_LANGUAGE) or next(iter(mapping.values()))
