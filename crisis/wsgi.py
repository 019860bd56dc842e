"""WSGI entry point for gunicorn (Procfile `web`)."""

import sys

from crisis import create_app
from crisis.core.config import ConfigError

try:
    app = create_app()
except ConfigError as error:  # "Refusing to start: ..." naming the variable, without a traceback
    print(str(error), file=sys.stderr, flush=True)
    sys.exit(3)  # gunicorn stops (a worker that cannot boot) instead of retrying
