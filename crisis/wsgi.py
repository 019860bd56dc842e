"""WSGI entry point for gunicorn (Procfile `web`)."""

import gc
import sys

from crisis import create_app
from crisis.core.config import ConfigError

try:
    app = create_app()
except ConfigError as error:  # "Refusing to start: ..." naming the variable, without a traceback
    print(str(error), file=sys.stderr, flush=True)
    sys.exit(3)  # gunicorn stops (a worker that cannot boot) instead of retrying

# The app's modules, mappers, catalogs and schemas (some 200,000 objects) live as long as the
# process: moved out of the garbage collector's view, a full collection no longer walks them all
# (it came every few dozen list requests and cost about 2 ms a request, averaged, on /api/v1/me/tasks).
gc.collect()
gc.freeze()
