"""Swedish first: every string marked for translation has a Swedish translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
METHODS = [("crisis/**.py", "python"), ("crisis/**/templates/**.html", "jinja2")]


def marked_strings() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, options_map={"crisis/**/templates/**.html": {}}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_string_has_a_swedish_translation():
    with (ROOT / "crisis/translations/sv/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    missing = sorted(marked_strings() - translated)
    assert not missing, f"Add Swedish translations (make translations, then edit sv/messages.po): {missing}"
