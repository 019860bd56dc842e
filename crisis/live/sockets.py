"""The `/live` Socket.IO namespace: who may connect, which rooms they may join,
and how a user's sockets are ended on logout or deactivation in every process.

A socket connects with the browser's session cookie, an `Authorization:
Bearer <token>` header, or `auth={"token": "<token>"}`; anything else is
refused. Each socket is put in its owner's room `user:<id>`; the dashboard
and incident rooms must be asked for with a `join` event and are granted by
the same rules as the pages (crisis.incidents.access). Every `join` checks the
user again, so a socket whose session ended cannot gain a room.

Disconnecting a user's sockets must also reach sockets held by other web
processes. Room membership is local to each process, so with a Redis message
queue the sockets of each user are also recorded in a Redis set; a disconnect
of a socket held elsewhere travels over the queue (python-socketio's
PubSubManager.can_disconnect).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time

import redis
from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import Namespace, join_room, leave_room
from socketio.exceptions import ConnectionRefusedError
from socketio.pubsub_manager import PubSubManager
from sqlalchemy import select
from sqlalchemy.engine import make_url

from crisis.auth import guards
from crisis.auth.models import User
from crisis.auth.services import user_for_token
from crisis.auth.twofactor import is_required_for
from crisis.core.api import ApiError
from crisis.core.db import db
from crisis.core.extensions import socketio
from crisis.incidents.access import can_view_incident
from crisis.incidents.models import Incident
from crisis.live.dashboard import DASHBOARD_ROLES
from crisis.live.rooms import NAMESPACE, parse_room, user_room

log = logging.getLogger(__name__)


# -- which sockets belong to whom ---------------------------------------------


class SocketRegistry:
    """The sockets of each user in every process (Redis), or in this one (no Redis).

    Keys name the database, because user ids are only unique within one: two
    deployments (or two test runs) sharing a Redis server must not disconnect
    each other's sockets.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, redis.Redis] = {}

    @staticmethod
    def redis_url() -> str | None:
        """The message queue's URL when the Socket.IO server uses Redis, else None."""
        server = socketio.server
        if server is None or not isinstance(server.manager, PubSubManager):
            return None
        url = socketio.server_options.get("message_queue")
        return url if isinstance(url, str) and url.startswith(("redis://", "rediss://")) else None

    def _redis(self) -> redis.Redis | None:
        url = self.redis_url()
        if url is None:
            return None
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
                self._clients[url] = client
            return client

    @staticmethod
    def key(user_id: int) -> str:
        url = make_url(str(db.engine.url))
        database = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
        digest = hashlib.sha256(database.encode()).hexdigest()[:12]
        return f"crisis:live:{digest}:user:{user_id}:sockets"

    def add(self, user_id: int, sid: str) -> None:
        client = self._redis()
        if client is not None:
            client.sadd(self.key(user_id), sid)

    def remove(self, user_id: int, sid: str) -> None:
        client = self._redis()
        if client is not None:
            client.srem(self.key(user_id), sid)

    @staticmethod
    def local_sockets(user_id: int) -> set[str]:
        """Socket ids of `user_id` held by this process (its rooms)."""
        server = socketio.server
        if server is None:
            return set()
        return {sid for sid, _eio_sid in server.manager.get_participants(NAMESPACE, user_room(user_id))}

    def recorded_sockets(self, user_id: int) -> set[str]:
        """Socket ids of `user_id` in every process, as recorded in Redis (none without Redis)."""
        client = self._redis()
        if client is None:
            return set()
        return {member.decode() if isinstance(member, bytes) else member
                for member in client.smembers(self.key(user_id))}

    def sockets_of(self, user_id: int) -> set[str]:
        return self.local_sockets(user_id) | self.recorded_sockets(user_id)

    def forget(self, user_id: int, sids: set[str]) -> None:
        client = self._redis()
        if client is not None and sids:
            client.srem(self.key(user_id), *sids)


registry = SocketRegistry()


def disconnect_user(user_id: int) -> int:
    """Disconnect every `/live` socket of `user_id`, in whichever process holds it.

    Called after logout and after a deactivation commits, in any process (a
    web request, the scheduler, a command). Returns how many sockets are being
    closed, including recorded ones that had already gone.
    """
    server = socketio.server
    if server is None:  # no app built in this process: nobody can be connected to it
        return 0
    local = registry.local_sockets(user_id)
    try:
        recorded = registry.recorded_sockets(user_id)
    except redis.RedisError:
        log.exception("live: could not list the sockets of user %s; only this process's are closed", user_id)
        recorded = set()
    for sid in recorded - local:
        # Held by another process: asked over the message queue right away
        # (this process may be a command that exits next).
        server.disconnect(sid, namespace=NAMESPACE)
    if local:
        # In a thread of its own: closing a local socket runs the namespace's
        # disconnect handler, which must not share the caller's database
        # session (the caller may be inside a commit or a request).
        socketio.start_background_task(_close_local_sockets, local)
    try:
        registry.forget(user_id, recorded | local)
    except redis.RedisError:
        log.warning("live: could not forget the closed sockets of user %s", user_id)
    closing = recorded | local
    if closing:
        log.info("live: closing %d socket(s) of user %s", len(closing), user_id)
    return len(closing)


def _close_local_sockets(sids: set[str]) -> None:
    for sid in sids:
        socketio.server.disconnect(sid, namespace=NAMESPACE)


# -- the namespace ------------------------------------------------------------


def _cookie_session_ended(user: User) -> bool:
    """Would a page refuse this session cookie? (crisis.auth.guards: idle and absolute
    timeout, two-factor required by role.) Socket.IO requests bypass the app's
    before_request hooks, so the policy is applied here too."""
    app = current_app
    problem = guards.session_problem(time.time(), app.permanent_session_lifetime.total_seconds(),
                                     app.config.get("SESSION_MAX_HOURS", 12) * 3600)
    if problem is None and is_required_for(user):
        return session.get(guards.SECOND_FACTOR) not in guards.WITH_SECOND_FACTOR
    return problem is not None


def _identify(token: str | None) -> User | None:
    """The user behind this socket: session cookie or bearer header (Flask-Login), or `auth.token`."""
    try:
        if current_user.is_authenticated:
            user = current_user._get_current_object()
            if "_user_id" in session and _cookie_session_ended(user):
                return None
            return user
    except ApiError:  # too many wrong bearer tokens from this address (crisis.auth.guards)
        return None
    if token:
        # The same limit on guessing as for bearer headers (crisis.auth.guards).
        if guards.bearer_attempts_exhausted():
            return None
        user = user_for_token(db.session, token)
        if user is None:
            guards.record_bearer_failure()
        return user
    return None


def _auth_token(auth) -> str | None:
    token = auth.get("token") if isinstance(auth, dict) else None
    return token.strip() if isinstance(token, str) and token.strip() else None


def refusal(status: int, error: str, detail: str, room: str | None = None) -> dict:
    """What a refused `join` answers (its acknowledgement and a `refused` event)."""
    answer = {"ok": False, "status": status, "error": error, "detail": detail}
    if room is not None:
        answer["room"] = room
    return answer


def _echo(requested) -> str | None:
    """The room name asked for, to repeat in a refusal (short strings only)."""
    return requested if isinstance(requested, str) and len(requested) <= 100 else None


def _answered(handler):
    """Acknowledge every request, also when something unexpected breaks."""

    @functools.wraps(handler)
    def wrapper(self, *args):
        try:
            answer = handler(self, *args)
        except Exception:
            db.session.rollback()
            log.exception("live: %s failed", handler.__name__)
            answer = refusal(500, "server_error", "The server could not handle the request; try again.")
        if not answer.get("ok"):
            self.emit("refused", answer, room=request.sid)
            if answer["status"] == 401:
                # The session has ended: close the socket once the answer is on its way.
                self.socketio.start_background_task(_disconnect_soon, request.sid, self.namespace)
        return answer

    return wrapper


def _disconnect_soon(sid: str, namespace: str) -> None:
    socketio.sleep(0.2)
    socketio.server.disconnect(sid, namespace=namespace)


class LiveNamespace(Namespace):
    def on_connect(self, auth=None):
        token = _auth_token(auth)
        user = _identify(token)
        if user is None:
            raise ConnectionRefusedError("unauthorized", {
                "status": 401,
                "detail": "Log in first, or connect with the header Authorization: Bearer <token> "
                          "or auth={\"token\": \"<token>\"}.",
            })
        sid = request.sid
        try:
            registry.add(user.id, sid)
        except redis.RedisError:
            log.exception("live: socket registry unavailable; refusing socket of user %s", user.id)
            raise ConnectionRefusedError("unavailable", {
                "status": 503, "detail": "Live updates are unavailable right now; the page retries.",
            }) from None
        join_room(user_room(user.id))
        # Registered first, checked second: a deactivation committed after this
        # read finds the socket in the registry; one committed before is seen here.
        db.session.commit()
        if not db.session.scalar(select(User.active).where(User.id == user.id)):
            registry.remove(user.id, sid)
            raise ConnectionRefusedError("unauthorized", {"status": 401, "detail": "The account is deactivated."})
        self.socketio.server.save_session(sid, {"user_id": user.id, "token": token}, namespace=self.namespace)
        log.info("live: socket connected for user %s", user.id)

    def on_disconnect(self, reason=None):
        try:
            user_id = self._session().get("user_id")
        except KeyError:
            return
        if user_id is None:
            return
        try:
            registry.remove(user_id, request.sid)
        except redis.RedisError:
            log.warning("live: could not unregister a socket of user %s", user_id)

    @_answered
    def on_join(self, data=None):
        user = self._current_user()
        if user is None:
            return refusal(401, "unauthorized", "Your session has ended; log in again.")
        requested = data.get("room") if isinstance(data, dict) else data
        room = parse_room(requested)
        if room is None:
            return refusal(400, "bad_room", 'Join {"room": "dashboard"} or {"room": "incident:<id>"}.',
                           _echo(requested))
        if room.incident_id is None:
            if not user.has_role(*DASHBOARD_ROLES):
                return refusal(403, "forbidden", "The dashboard room is for coordinators, managers and "
                               "admins. The events of your own incidents reach you without joining; "
                               "or join incident:<id> for one of them.", room.name)
        else:
            incident = db.session.get(Incident, room.incident_id)
            if incident is None and user.has_role(*DASHBOARD_ROLES):
                return refusal(404, "not_found", f"There is no incident {room.incident_id}.", room.name)
            if incident is None or not can_view_incident(db.session, user, incident):
                # Same answer for unknown and not assigned: no probing for incidents.
                return refusal(403, "forbidden", "You can follow only incidents you are assigned to.",
                               room.name)
        join_room(room.name)
        return {"ok": True, "room": room.name}

    @_answered
    def on_leave(self, data=None):
        requested = data.get("room") if isinstance(data, dict) else data
        room = parse_room(requested)
        if room is None:
            return refusal(400, "bad_room", 'Leave {"room": "dashboard"} or {"room": "incident:<id>"}.',
                           _echo(requested))
        leave_room(room.name)
        return {"ok": True, "room": room.name}

    # -- helpers --

    def _session(self) -> dict:
        return self.socketio.server.get_session(request.sid, namespace=self.namespace)

    def _current_user(self) -> User | None:
        """The socket's user, checked again now (deactivated, logged out, token revoked: None)."""
        info = self._session()
        user = _identify(info.get("token"))
        if user is None or user.id != info.get("user_id"):
            return None
        return user


socketio.on_namespace(LiveNamespace(NAMESPACE))
