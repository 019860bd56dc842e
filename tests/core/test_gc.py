"""What starting made is out of the garbage collector's sight (crisis.app._freeze_start_up_objects).

A full collection stops every thread of the web process; walking the app, its modules, mappers
and templates (some 240,000 objects) made each take 100-200 ms, whichever request it fell in.
"""

import gc


def test_the_app_and_what_starting_made_are_frozen(app):
    assert gc.get_freeze_count() > 0
    made_at_start = (app, app.config, app.url_map, app.jinja_env)
    assert not any(any(obj is made for made in made_at_start) for obj in gc.get_objects())
