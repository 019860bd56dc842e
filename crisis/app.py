"""The application factory (shape after Indico's: check config, then extensions in a fixed order)."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import DataError, StatementError
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from crisis.auth.guards import session_cookie_config
from crisis.core import crypto
from crisis.core.admission import limit_active_requests
from crisis.core.api import api, register_api_errors
from crisis.core.config import PROJECT_ROOT, Settings, load_settings
from crisis.core.db import db
from crisis.core.extensions import babel, csrf, limiter, socketio
from crisis.core.i18n import (
    TRANSLATIONS_DIR,
    compile_translations,
    install_request_catalog,
    lang_text,
    local_time,
    select_locale,
)
from crisis.core.logging import configure_logging
from crisis.core.navigation import bottom_nav_items, nav_items
from crisis.core.redis_fallback import limiter_storage_uri, redis_up
from crisis.core.security import (
    DatabaseIdConverter,
    QuietSessionInterface,
    init_security_headers,
    is_background_copy,
)
from crisis.live.origin import same_origin_check

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    settings = settings or load_settings()
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        static_folder=str(PROJECT_ROOT / "static"),
        template_folder="templates",
    )
    # Before any route is added: ids in URLs stay within what the database can hold.
    app.url_map.converters["int"] = DatabaseIdConverter
    app.config.update(settings.as_flask_config())
    app.config.update(
        **session_cookie_config(settings.is_production),  # Secure and __Host- in production
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_timeout_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,  # the session lifetime bounds the token
        BABEL_DEFAULT_LOCALE="sv",
        BABEL_DEFAULT_TIMEZONE="Europe/Stockholm",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS_DIR),
        # Redis, or this process's memory while Redis is down (issue 14).
        RATELIMIT_STORAGE_URI=limiter_storage_uri(settings.redis_url),
        RATELIMIT_STRATEGY="moving-window",
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    # Files (static, the service worker, the manifest) never write the session cookie back: their
    # answers race the page's own and could put back a cookie without the CSRF token it just got.
    app.session_interface = QuietSessionInterface(QUIET_ENDPOINTS)
    configure_logging()
    # X-Forwarded-* only from the configured number of proxies (TRUSTED_PROXIES, default 0, issue 14):
    # trusted always, a rotating X-Forwarded-For would dodge every per-address limit. Twilio
    # signatures are checked against PUBLIC_BASE_URL anyway.
    app.wsgi_app = trust_proxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    # A few requests at a time run the app, the rest wait their turn (WEB_ACTIVE_REQUESTS, issue 15).
    # Wrapped before Flask-SocketIO's middleware goes around it: sockets are never queued.
    app.wsgi_app = limit_active_requests(app.wsgi_app, settings.web_active_requests)  # type: ignore[method-assign]

    crypto.keyring.configure(settings.encryption_keys, settings.secret_key)
    db.init_app(app)
    import crisis.models  # noqa: F401  (every mapper configured before first use)

    compile_translations()
    babel.init_app(app, locale_selector=select_locale)
    install_request_catalog(app, babel)
    csrf.init_app(app)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=settings.redis_url,
        channel=message_queue_channel(settings.database_url),
        # The page's own address or PUBLIC_BASE_URL, nothing else (issue 18; crisis.live.origin).
        cors_allowed_origins=same_origin_check(settings.public_base_url),
        manage_session=False,
    )

    from crisis.auth.setup import init_login

    init_login(app)
    init_security_headers(app)
    register_api_errors(app)
    _connect_receivers()
    _register_labels()
    _register_blueprints(app)
    _register_template_helpers(app)
    _register_health(app)
    _register_error_pages(app)
    return app


#: Endpoints that serve files and leave the session cookie alone (crisis.core.security.QuietSessionInterface).
QUIET_ENDPOINTS = frozenset({"static", "pwa.manifest", "pwa.service_worker"})


# Each capability's pages (a blueprint `bp`) and API endpoints (added to `api` on import).
BLUEPRINTS = [
    "crisis.auth.routes", "crisis.home", "crisis.incidents.routes", "crisis.tasks.routes",
    "crisis.playbooks.routes", "crisis.dispatch.routes", "crisis.messaging.routes",
    "crisis.messaging.webhooks", "crisis.followups.routes", "crisis.live.routes",
    "crisis.casefile.routes", "crisis.reports.routes", "crisis.retention.routes",
    "crisis.staff.routes", "crisis.oncall.routes", "crisis.pwa.routes", "crisis.push.routes",
]
API_MODULES = [
    "crisis.auth.api", "crisis.incidents.api", "crisis.tasks.api", "crisis.dispatch.api",
    "crisis.messaging.api", "crisis.followups.api", "crisis.live.api", "crisis.timeline.api",
    "crisis.reports.api", "crisis.retention.api", "crisis.staff.api", "crisis.orgadmin.api", "crisis.oncall.api",
    "crisis.push.api",
    "crisis.core.openapi",
]


# The modules that subscribe to crisis.core.signals: imported at start so every
# receiver is connected before the first request, job or command sends a signal.
SUBSCRIBERS = [
    "crisis.dispatch.receivers", "crisis.followups.receivers", "crisis.live.receivers", "crisis.tasks.receivers",
]


# The modules that give words for their capability's codes (crisis.core.labels.register_labels):
# imported at start so label(group, code) knows every group on the first page, job or command.
LABEL_MODULES = ["crisis.incidents.labels", "crisis.messaging.labels"]


def _connect_receivers() -> None:
    for name in SUBSCRIBERS:
        importlib.import_module(name)


def _register_labels() -> None:
    for name in LABEL_MODULES:
        importlib.import_module(name)


def _import_optional(name: str):
    """Import a capability module; one not written yet is skipped, any other error raised."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def trust_proxies(wsgi_app, hops: int):
    """`wsgi_app` reading X-Forwarded-For/-Proto/-Host set by `hops` proxies in front (none: unchanged)."""
    if hops <= 0:
        return wsgi_app
    return ProxyFix(wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _register_blueprints(app: Flask) -> None:
    for name in API_MODULES:
        _import_optional(name)
    for name in BLUEPRINTS:
        module = _import_optional(name)
        if module is not None:
            app.register_blueprint(module.bp)
    # API clients authenticate with bearer tokens; browser calls with the
    # session cookie are CSRF-checked in crisis.auth.api.
    csrf.exempt(api)
    app.register_blueprint(api)


def _register_template_helpers(app: Flask) -> None:
    from crisis.auth.labels import role_label
    from crisis.core.urls import row_url

    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["role_label"] = role_label
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["bottom_nav_items"] = bottom_nav_items
    app.jinja_env.globals["lang_text"] = lang_text
    app.jinja_env.globals["row_url"] = row_url
    app.jinja_env.globals["is_background_copy"] = is_background_copy
    app.jinja_env.add_extension("jinja2.ext.do")


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    @limiter.exempt
    def healthz():
        try:
            db.session.execute(text("SELECT 1"))
            database = "ok"
        except Exception:  # reported, not raised: the probe wants the answer
            log.exception("health check: database unreachable")
            database = "unreachable"
        finally:
            db.session.rollback()
        status = 200 if database == "ok" else 503
        # Redis down degrades (rate limits in memory, no live push) but does not fail the probe (issue 14).
        redis_url = app.config.get("REDIS_URL")
        redis_state = "not_configured" if not redis_url else ("ok" if redis_up(redis_url, fresh=True) else "degraded")
        overall = "ok" if status == 200 and redis_state != "degraded" else "degraded"
        return jsonify(status=overall, database=database, redis=redis_state, dialect=db.dialect), status


def _register_error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    for code in (400, 401, 403, 404, 405, 409, 413, 429, 500):
        app.register_error_handler(code, _error_page_for(code))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        # 403 like any refusal; the page says what to do about it.
        exc.description = str(_("The form has expired or was not sent from this site. "
                                "Reload the page and try again."))
        return _error_page_for(403)(exc)

    @app.errorhandler(OverflowError)
    @app.errorhandler(StatementError)
    def _out_of_range(exc):
        # A number or date in the request beyond what Python or the database holds
        # (?district_id=99999999999999999999, ?end=9999-12-31): the input is wrong, not
        # the server. Safety net only: routes should validate their ranges themselves.
        if isinstance(exc, StatementError) and not (
            isinstance(exc, DataError) or isinstance(getattr(exc, "orig", None), OverflowError)
        ):
            raise exc  # integrity, connection and other database errors keep their own handling
        db.session.rollback()
        log.warning("out-of-range input on %s: %s", request.endpoint, type(exc).__name__)
        error = BadRequest(str(_("A number or date in the request is out of range. Check the values and "
                                 "try again.")))
        return _error_page_for(400)(error)


def _error_page_for(code: int):
    def handler(exc):
        from crisis.core.api import is_api_request, problem

        if is_api_request():
            return problem(code, getattr(exc, "name", "Error"), getattr(exc, "description", ""))
        g.error = exc
        return render_template("error.html", error=exc, code=code), code

    return handler


def message_queue_channel(database_url: str) -> str:
    """The Socket.IO channel on the Redis message queue: one per database.

    Redis pub/sub channels are shared by every database of a Redis server, so
    with Flask-SocketIO's default channel two deployments (or two test runs)
    on one Redis would receive each other's `dashboard` and `incident:1`
    events. The web processes, the scheduler and commands of one deployment
    share DATABASE_URL, hence the channel (as the socket registry's keys,
    crisis.live.sockets)."""
    import hashlib

    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    database = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return f"crisis-live-{hashlib.sha256(database.encode()).hexdigest()[:12]}"
