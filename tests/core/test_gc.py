"""The web process freezes what starting made out of the garbage collector's sight (crisis/wsgi.py).

A full collection stops every thread of the web process; walking the app, its modules, mappers
and templates (some 240,000 objects) made each take 100-200 ms, whichever request it fell in.
"""

import os
import subprocess
import sys

PROBE = """
import gc
import crisis.wsgi as entry
made_at_start = (entry.app, entry.app.config, entry.app.url_map, entry.app.jinja_env)
print(gc.get_freeze_count() > 0, not any(any(o is m for m in made_at_start) for o in gc.get_objects()))
"""


def test_gunicorns_entry_point_freezes_the_app_and_what_starting_made(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'probe.db'}", CRISIS_ENV="development")
    answer = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout.split()[-2:] == ["True", "True"]
