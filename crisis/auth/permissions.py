"""Role checks for pages, API endpoints and socket events."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from crisis.auth.models import Role
from crisis.core.api import ApiError, is_api_request
from crisis.core.extensions import login_manager


def deny(status: int, detail: str):
    if is_api_request():
        raise ApiError(status, "Forbidden" if status == 403 else "Unauthorized", detail)
    abort(status, detail)


def roles_required(*roles: Role):
    """The view needs a logged-in user with at least one of `roles`."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()  # pages: to the login page; API: 401
            if not current_user.has_role(*roles):
                needed = " or ".join(r.value for r in roles)
                deny(403, f"This needs the role {needed}.")
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # read by the access-matrix test
        return wrapper

    return decorator


login_required = roles_required(*Role)
