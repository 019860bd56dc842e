"""Crisis-response coordination for support to relatives after shootings and lethal violence."""

__all__ = ["create_app"]


def __getattr__(name: str):
    # Imported on first use: `crisis --help` and `crisis playbooks validate` need no web app
    # (and importing it costs seconds).
    if name == "create_app":
        from crisis.app import create_app

        return create_app
    raise AttributeError(f"module 'crisis' has no attribute {name!r}")
