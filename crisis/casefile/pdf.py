"""The incident timeline as a PDF for a case review (ärendegenomgång).

A4, the incident's facts on top, then every entry in order: when, what kind,
who, what, and which relative or task it concerns. Every page is marked as
covered by social-services secrecy and numbered "page n of m", so a printed
page found alone says what it is and that something may be missing.

The text is Swedish or English with names of staff from anywhere, so a
Unicode TrueType font is embedded: DejaVu Sans shipped in ./fonts (a subset
with Latin, Greek and Cyrillic); failing that, the system's DejaVu; failing
that, the PDF core font Helvetica with every character it lacks replaced, so
the export degrades but never fails.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask_babel import format_datetime
from flask_babel import gettext as _
from fpdf import FPDF, FontFace, XPos, YPos

from crisis.casefile.queries import Entry, kind_label

log = logging.getLogger(__name__)
# fpdf2 subsets the font on every export and fontTools reports each step at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIRS = (Path(__file__).resolve().parent / "fonts", Path("/usr/share/fonts/truetype/dejavu"))
FAMILY = "DejaVu"
MARGIN = 15
HEADINGS = (235, 239, 244)
FLAG = (253, 236, 234)


def find_fonts() -> tuple[Path, Path] | None:
    for directory in FONT_DIRS:
        regular, bold = directory / "DejaVuSans.ttf", directory / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


@dataclass(frozen=True)
class CaseHeader:
    reference: str
    facts: Sequence[tuple[str, str]]  # (label, value) lines under the title
    generated_by: str
    generated_at: datetime
    selection: str  # which kinds of entries are included
    language: str = "sv"


class _CasePdf(FPDF):
    def __init__(self, header: CaseHeader, unicode_font: bool):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.case = header
        self.unicode_font = unicode_font
        self.family = FAMILY if unicode_font else "helvetica"

    def text_for(self, value: str) -> str:
        """Core fonts know Latin-1 only: replace the rest rather than fail."""
        value = value or ""
        if self.unicode_font:
            return value
        value = value.replace("–", "-").replace("—", "-").replace("…", "...").replace("·", "-")
        return value.encode("latin-1", "replace").decode("latin-1")

    def header(self):
        self.set_font(self.family, "", 8)
        self.set_text_color(90, 100, 112)
        self.cell(0, 5, self.text_for(_("Confidential: social services secrecy (OSL 26 ch. 1 §)")),
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(1)

    def footer(self):
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(90, 100, 112)
        left = _("Response %(ref)s · case review · printed %(at)s by %(who)s", ref=self.case.reference,
                 at=format_datetime(self.case.generated_at, "short"), who=self.case.generated_by)
        self.cell(0, 5, self.text_for(left), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, self.text_for(_("Page %(page)s of %(pages)s", page=self.page_no(), pages="{nb}")),
                  align="R")
        self.set_text_color(0, 0, 0)


def timeline_pdf(header: CaseHeader, entries: Sequence[Entry]) -> bytes:
    fonts = find_fonts()
    pdf = _CasePdf(header, unicode_font=fonts is not None)
    if fonts is not None:
        pdf.add_font(FAMILY, "", str(fonts[0]))
        pdf.add_font(FAMILY, "B", str(fonts[1]))
    else:
        log.warning("no DejaVu font found; the case-review PDF falls back to Helvetica (Latin-1 only)")
    title = _("Timeline of response %(ref)s", ref=header.reference)
    pdf.set_title(title)
    pdf.set_subject(_("Case review"))
    pdf.set_author(header.generated_by)
    pdf.set_creator("Krisstöd")
    pdf.set_lang(header.language)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()

    pdf.set_font(pdf.family, "B", 16)
    pdf.multi_cell(0, 8, pdf.text_for(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font(pdf.family, "", 10)
    for label, value in header.facts:
        pdf.set_font(pdf.family, "B", 10)
        pdf.cell(52, 5.5, pdf.text_for(label))
        pdf.set_font(pdf.family, "", 10)
        pdf.multi_cell(0, 5.5, pdf.text_for(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font(pdf.family, "", 9)
    pdf.set_text_color(90, 100, 112)
    pdf.multi_cell(0, 4.5, pdf.text_for(_("Included: %(kinds)s. %(n)s entries, oldest first. Times are "
                                          "Stockholm time.", kinds=header.selection, n=len(entries))),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(3)

    if not entries:
        pdf.set_font(pdf.family, "", 10)
        pdf.cell(0, 6, pdf.text_for(_("No entries.")))
        return bytes(pdf.output())

    pdf.set_font(pdf.family, "", 8.5)
    headings = FontFace(emphasis="BOLD", fill_color=HEADINGS)
    with pdf.table(col_widths=(22, 28, 32, 98), text_align="LEFT", line_height=4.4,
                   headings_style=headings, borders_layout="HORIZONTAL_LINES", repeat_headings=1,
                   padding=(1.2, 1.5), v_align="TOP") as table:
        row = table.row()
        for heading in (_("When"), _("Kind"), _("Who"), _("What")):
            row.cell(pdf.text_for(heading))
        for entry in entries:
            style = FontFace(fill_color=FLAG) if entry.flagged else None
            row = table.row(style=style)
            row.cell(pdf.text_for(format_datetime(entry.at, "yyyy-MM-dd HH:mm")))
            row.cell(pdf.text_for(kind_label(entry.kind)))
            row.cell(pdf.text_for(entry.actor))
            row.cell(pdf.text_for(_what(entry)))
    return bytes(pdf.output())


def _what(entry: Entry) -> str:
    text = entry.summary
    extra = [part for part in entry.concerns.split(" · ") if part and part not in text]
    if extra:
        text += f" ({' · '.join(extra)})"
    if entry.flagged:
        text += " — " + _("NOT ASSIGNED to the incident when opened")
    if entry.reason:
        text += " — " + _("Reason given: %(reason)s", reason=entry.reason)
    return text
