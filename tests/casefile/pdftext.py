"""Just enough of a PDF reader to get the text of what fpdf2 writes, for the tests.

Embedded TrueType fonts are written as two-byte glyph ids; each font's
ToUnicode CMap says which character each id is. Core fonts (Helvetica) are
written as Latin-1 text. Nothing here is used by the product.
"""

from __future__ import annotations

import re
import zlib

HEADER = re.compile(rb"(\d+) 0 obj")
LENGTH = re.compile(rb"/Length\s+(\d+)(\s+\d+\s+R)?")
TOKEN = re.compile(rb"/(\w+)\s+[\d.]+\s+Tf|\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|\bT[jJ]\b|\bET\b|\bTd\b|\bT\*")


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Each object's text and its stream (inflated), reading a stream by its /Length: compressed
    bytes may contain "endobj" or "endstream" by chance, so no pattern may look inside them."""
    objects = {}
    position = 0
    while (header := HEADER.search(data, position)) is not None:
        start = header.end()
        stream_at, end_at = data.find(b"stream", start), data.find(b"endobj", start)
        if end_at == -1:
            break
        content = None
        if stream_at != -1 and stream_at < end_at:
            dictionary = data[start:stream_at]
            length = LENGTH.search(dictionary)
            assert length and not length.group(2), "a stream without a direct /Length"
            first = stream_at + len(b"stream")
            first += 2 if data[first:first + 2] == b"\r\n" else 1
            content = data[first:first + int(length.group(1))]
            if b"/FlateDecode" in dictionary:
                content = zlib.decompress(content)
            end_at = data.find(b"endobj", first + int(length.group(1)))
        objects[int(header.group(1))] = (data[start:end_at], content)
        position = end_at + len(b"endobj")
    return objects


def _cmap(text: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = int(dst, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(start + offset)
    return mapping


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(literal):
        c = literal[i]
        if c == 0x5C and i + 1 < len(literal):  # backslash
            nxt = literal[i + 1]
            simple = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
            elif 0x30 <= nxt <= 0x37:
                digits = re.match(rb"[0-7]{1,3}", literal[i + 1:]).group(0)
                out.append(int(digits, 8) & 0xFF)
                i += 1 + len(digits)
            else:
                out.append(nxt)
                i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _fonts(objects) -> dict[str, dict[int, str] | None]:
    """Font resource name (F1) -> its ToUnicode map, or None for a simple Latin-1 font."""
    fonts: dict[str, dict[int, str] | None] = {}
    for body, _content in objects.values():
        for name, ref in re.findall(rb"/(F\d+)\s+(\d+) 0 R", body):
            font_body = objects.get(int(ref), (b"", None))[0]
            to_unicode = re.search(rb"/ToUnicode\s+(\d+) 0 R", font_body)
            if to_unicode:
                fonts[name.decode()] = _cmap(objects[int(to_unicode.group(1))][1] or b"")
            elif name.decode() not in fonts:
                fonts[name.decode()] = None
    return fonts


def pdf_text(data: bytes) -> str:
    """The text shown on the pages, in content-stream order, one line per text object."""
    objects = _objects(data)
    fonts = _fonts(objects)
    lines: list[str] = []
    for _body, content in objects.values():
        if content is None or b"BT" not in content:
            continue
        font = None
        line = ""
        for token in TOKEN.finditer(content):
            raw = token.group(0)
            if token.group(1):
                font = fonts.get(token.group(1).decode())
            elif raw.startswith(b"("):
                line += _decode(_unescape(raw[1:-1]), font)
            elif raw.startswith(b"<"):
                line += _decode(bytes.fromhex(re.sub(rb"\s", b"", raw[1:-1]).decode()), font)
            elif raw in (b"ET", b"T*"):
                if line:
                    lines.append(line)
                line = ""
        if line:
            lines.append(line)
    return "\n".join(lines)


def _decode(raw: bytes, font: dict[int, str] | None) -> str:
    if font is None:
        return raw.decode("latin-1")
    return "".join(font.get(int.from_bytes(raw[i:i + 2], "big"), "\ufffd") for i in range(0, len(raw) - 1, 2))
