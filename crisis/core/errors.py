"""What a service refuses, as every capability's errors share it.

A capability's own error (`IncidentError`, `TaskError`, ...) derives from
`ServiceError`; a refused change because the row moved on derives from
`StaleRow`. The API's `perform` (crisis.core.apischema) answers them as 422
and 409/412 problems without knowing which capability raised them.
"""

from __future__ import annotations


class ServiceError(ValueError):
    """Input a service refuses; the message says what to fix (shown to the user), `field` which input."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleRow(ServiceError):
    """Someone else changed the row first; `current_version` is the version there is now."""

    current_version: int
