"""The live dashboard's answer to crisis.core.signals: ended sessions lose their sockets."""

from __future__ import annotations

from crisis.core.signals import sessions_ended
from crisis.live.sockets import disconnect_user


@sessions_ended.connect
def close_sockets_of_ended_sessions(_sender, *, user_id: int, **_kwargs) -> None:
    """Disconnect every `/live` socket of the user, in whichever process holds it."""
    disconnect_user(user_id)
