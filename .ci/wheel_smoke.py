"""What an installed wheel reads at run time is in it (`make wheel-check`).

Run with the fresh venv's python from a directory outside the checkout: the
package must come from site-packages, with its templates, translations,
static files, migrations, default playbooks and PDF fonts.
"""

from __future__ import annotations

from pathlib import Path

import crisis
from crisis.core.config import PROJECT_ROOT

package = Path(crisis.__file__).resolve().parent
assert "site-packages" in package.parts, f"crisis was imported from {package}, not from the wheel"
assert PROJECT_ROOT == package / "_bundled", f"run-time files are looked for in {PROJECT_ROOT}"
for name in ("migrations/env.py", "migrations/script.py.mako", "static/css/app.css", "static/js/live.js",
             "playbooks/skjutning.yaml", "playbooks/README.md"):
    assert (PROJECT_ROOT / name).is_file(), f"the wheel lacks {name}"
for name in ("casefile/fonts/DejaVuSans.ttf", "casefile/fonts/DejaVuSans-Bold.ttf", "playbooks/schema.json",
             "translations/sv/LC_MESSAGES/messages.mo", "translations/en/LC_MESSAGES/messages.mo"):
    assert (package / name).is_file(), f"the wheel lacks crisis/{name}"

from crisis import create_app  # noqa: E402

app = create_app()
client = app.test_client()
login = client.get("/login", headers={"Accept-Language": "sv"})
assert login.status_code == 200, login.status_code
assert "Logga in" in login.get_data(as_text=True), "the login page is not in Swedish"
css = client.get("/static/css/app.css")
assert css.status_code == 200 and css.data, css.status_code
print(f"wheel smoke: {package} serves pages, static files and translations")
