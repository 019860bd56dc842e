"""Flask extensions, created once and initialised by the app factory in a fixed order."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# No default limits: each sensitive endpoint states its own.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
# Threading mode set explicitly: eventlet is winding down and its
# auto-selection is a trap (docs/architecture.md "Procfile").
socketio = SocketIO(async_mode="threading")
