"""WSGI entry point for gunicorn (Procfile `web`)."""

from crisis import create_app

app = create_app()
