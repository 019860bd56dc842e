"""Build hook: the wheel carries what the app reads at run time outside `crisis/`.

pyproject.toml holds the project's metadata; this only extends `build_py` so
that a wheel works outside the checkout (docs/architecture.md, "Packaging"):

- migrations/, static/ and playbooks/ are copied to `crisis/_bundled/`, where
  `crisis.core.config.PROJECT_ROOT` points when there is no checkout around;
- the translations (.po) are compiled to .mo, so an installed app never has
  to write into its own package.

Editable installs (`make install`) read the checkout itself and skip both.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("migrations", "static", "playbooks")


class BuildWithRuntimeFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        package = Path(self.build_lib) / "crisis"
        for name in BUNDLED:
            shutil.copytree(ROOT / name, package / "_bundled" / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po_path in (package / "translations").glob("*/LC_MESSAGES/messages.po"):
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            with po_path.with_suffix(".mo").open("wb") as mo_file:
                write_mo(mo_file, catalog)


setup(cmdclass={"build_py": BuildWithRuntimeFiles})
