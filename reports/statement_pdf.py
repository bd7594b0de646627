"""The statements' PDF writer: text in embedded TrueType fonts, filled rectangles and rules on A4
pages, nothing more.

A month has thousands of statements of a page or two. A general PDF library spent about 10 ms on
each (2,000 statements: 20 CPU-s beside the bills), most of it measuring text again and subsetting
its font for every file. Here each of the month's fonts is read once per process
(`EmbeddedFont.read`) and a statement embeds it with only the outlines it prints: the glyph
numbers stay those of the month's font (so text is written by glyph number, with one width table
and one character map per font), and the outlines it does not print are left empty.

Coordinates are millimetres from the top left of the page, as the layout thinks; a text's `y` is
its baseline. The same content gives the same bytes: nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from fontTools.ttLib import TTFont

PT_PER_MM = 72 / 25.4
A4_MM = (210.0, 297.0)

# TrueType tables a PDF's embedded font keeps (the outlines, their metrics, the names); the month's
# fonts carry no hinting and no layout tables (reports.statement_fonts)
_KEPT_TABLES = ("OS/2", "cmap", "head", "hhea", "hmtx", "maxp", "name", "post")
# Composite glyph flags (the OpenType 'glyf' table)
_ARGS_ARE_WORDS, _HAS_SCALE, _MORE_COMPONENTS, _HAS_XY_SCALE, _HAS_2X2 = 0x1, 0x8, 0x20, 0x40, 0x80


@dataclass(frozen=True)
class EmbeddedFont:
    """One font of the month, read once: its glyphs by character, widths and outlines."""

    name: str
    glyph_of: dict[str, int]
    advances: tuple[int, ...]  # per glyph, in font units
    units_per_em: int
    outlines: tuple[bytes, ...]  # per glyph, its 'glyf' record (empty: no outline)
    components: dict[int, tuple[int, ...]]  # composite glyph -> the glyphs it is drawn from
    tables: dict[str, bytes]
    bbox: tuple[int, int, int, int]  # in thousandths of the em, as PDF wants
    ascent: int
    descent: int
    cap_height: int

    @classmethod
    def read(cls, path: Path, name: str) -> EmbeddedFont:
        font = TTFont(str(path))
        if "glyf" not in font:
            raise ValueError(f"{path.name}: the statements embed TrueType outlines, and this font's are "
                             "PostScript (CFF); add the font's TrueType version to FONT_SOURCES instead")
        head, hhea = font["head"], font["hhea"]
        units = head.unitsPerEm
        order = font.getGlyphOrder()
        metrics = font["hmtx"].metrics
        glyph_of = {chr(code): font.getGlyphID(glyph) for code, glyph in font.getBestCmap().items()}
        glyf = font.reader["glyf"]
        loca = font.reader["loca"]
        if head.indexToLocFormat == 0:
            offsets = [2 * offset for offset in struct.unpack(f">{len(loca) // 2}H", loca)]
        else:
            offsets = list(struct.unpack(f">{len(loca) // 4}I", loca))
        outlines = tuple(glyf[offsets[number]:offsets[number + 1]] for number in range(len(order)))
        components = {number: _components(outline) for number, outline in enumerate(outlines)
                      if len(outline) >= 10 and struct.unpack(">h", outline[:2])[0] < 0}
        os2 = font["OS/2"]

        def scaled(value: int) -> int:
            return round(value * 1000 / units)

        return cls(
            name=name, glyph_of=glyph_of, advances=tuple(metrics[glyph][0] for glyph in order), units_per_em=units,
            outlines=outlines, components=components,
            tables={tag: font.reader[tag] for tag in _KEPT_TABLES if tag in font.reader},
            bbox=(scaled(head.xMin), scaled(head.yMin), scaled(head.xMax), scaled(head.yMax)),
            ascent=scaled(hhea.ascent), descent=scaled(hhea.descent),
            cap_height=scaled(getattr(os2, "sCapHeight", 0) or hhea.ascent))

    def width(self, text: str, size: float) -> float:
        """The width of `text` set in this font at `size` points, in millimetres (characters the
        font lacks take none)."""
        glyphs = self.glyph_of
        units = sum(self.advances[glyphs[character]] for character in text if character in glyphs)
        return units * size / self.units_per_em / PT_PER_MM

    def program(self, glyphs: set[int]) -> bytes:
        """The font as a TrueType file with the outlines of `glyphs` (and of the glyphs they are
        drawn from) only; every glyph keeps its number."""
        kept, waiting = set(), [0, *glyphs]
        while waiting:  # a composite's parts may be composites themselves
            glyph = waiting.pop()
            if glyph not in kept:
                kept.add(glyph)
                waiting.extend(self.components.get(glyph, ()))
        outlines, offsets, offset = [], [], 0
        for number, outline in enumerate(self.outlines):
            offsets.append(offset)
            if number in kept and outline:
                outline += b"\0" * (-len(outline) % 4)
                outlines.append(outline)
                offset += len(outline)
        offsets.append(offset)
        head = bytearray(self.tables["head"])
        head[8:12] = b"\0\0\0\0"  # checkSumAdjustment, set below
        head[50:52] = struct.pack(">h", 1)  # indexToLocFormat: 32-bit offsets
        tables = dict(self.tables, head=bytes(head), glyf=b"".join(outlines),
                      loca=struct.pack(f">{len(offsets)}I", *offsets))
        return _sfnt(tables)


def _components(outline: bytes) -> tuple[int, ...]:
    """The glyph numbers a composite glyph's record draws from."""
    found, position = [], 10
    while True:
        flags, glyph = struct.unpack(">HH", outline[position:position + 4])
        found.append(glyph)
        position += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        position += 2 if flags & _HAS_SCALE else 4 if flags & _HAS_XY_SCALE else 8 if flags & _HAS_2X2 else 0
        if not flags & _MORE_COMPONENTS:
            return tuple(found)


def _checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(data) // 4}I", data)) & 0xFFFFFFFF


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """A TrueType file of `tables`, its directory and checksums as the format asks."""
    tags = sorted(tables)
    power = 1 << (len(tags).bit_length() - 1)
    directory = [struct.pack(">IHHHH", 0x00010000, len(tags), power * 16, power.bit_length() - 1,
                             len(tags) * 16 - power * 16)]
    body, offset = [], 12 + 16 * len(tags)
    for tag in tags:
        data = tables[tag]
        directory.append(struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data), offset, len(data)))
        padded = data + b"\0" * (-len(data) % 4)
        body.append(padded)
        offset += len(padded)
    whole = b"".join(directory + body)
    adjustment = (0xB1B0AFBA - _checksum(whole)) & 0xFFFFFFFF
    head_offset = struct.unpack(">I", whole[12 + 16 * tags.index("head") + 8:][:4])[0]
    return whole[:head_offset + 8] + struct.pack(">I", adjustment) + whole[head_offset + 12:]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _text_string(value: str) -> bytes:
    """A PDF text string: ASCII as a literal, anything else in UTF-16 with its byte order mark."""
    if value.isascii():
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"({escaped})".encode("ascii")
    return b"<feff" + value.encode("utf-16-be").hex().encode("ascii") + b">"


# What a FontSet keeps of the texts it set, at most: a month's statements repeat their labels, names
# and services, while their amounts mostly differ
_KEPT_TEXTS = 20_000


class FontSet:
    """The fonts a document sets its text in, in order of preference (a character is set in the
    first that has it), with the glyph runs and widths of the texts set so far. Working them out
    character by character was two thirds of a statement's time, and the statements of a month
    (thousands, in a process or two) ask for the same labels, names and services again and again."""

    def __init__(self, fonts: tuple[EmbeddedFont, ...]):
        self.fonts = fonts
        self._runs: dict[str, tuple[_Run, ...]] = {}
        self._widths: dict[tuple[str, float], float] = {}

    def font_of(self, character: str) -> int | None:
        """The index of the first font that has `character`; None when none has it."""
        for index, font in enumerate(self.fonts):
            if character in font.glyph_of:
                return index
        return None

    def width(self, text: str, size: float) -> float:
        """The width of `text` at `size` points in millimetres, each character in its font."""
        key = (text, size)
        if (known := self._widths.get(key)) is None:
            known = self._keep(self._widths, key, self._measured(text, size))
        return known

    def _measured(self, text: str, size: float) -> float:
        if all(character in self.fonts[0].glyph_of for character in text):
            return self.fonts[0].width(text, size)
        return sum(self.fonts[index].width(character, size) for character in text
                   if (index := self.font_of(character)) is not None)

    def runs(self, text: str) -> tuple[_Run, ...]:
        """`text` as runs of glyphs of one font each; characters no font has are left out (printed
        as nothing: the month close names them)."""
        if (known := self._runs.get(text)) is None:
            known = self._keep(self._runs, text, self._split(text))
        return known

    def _split(self, text: str) -> tuple[_Run, ...]:
        runs: list[tuple[int, list[int]]] = []
        for character in text:
            index = self.font_of(character)
            if index is None:
                continue
            glyph = self.fonts[index].glyph_of[character]
            if runs and runs[-1][0] == index:
                runs[-1][1].append(glyph)
            else:
                runs.append((index, [glyph]))
        return tuple(_Run(index, frozenset(glyphs), "".join(f"{glyph:04x}" for glyph in glyphs),
                          sum(self.fonts[index].advances[glyph] for glyph in glyphs)) for index, glyphs in runs)

    @staticmethod
    def _keep(cache: dict, key, value):
        if len(cache) >= _KEPT_TEXTS:
            cache.clear()  # a month of unusually many different texts: start again rather than grow
        cache[key] = value
        return value


@dataclass(frozen=True)
class _Run:
    """Characters of a text set in one font, side by side."""

    font: int  # index in the FontSet
    glyphs: frozenset[int]
    shown: str  # the glyph numbers as the PDF string shows them (hexadecimal, 2 bytes each)
    advance: int  # the run's width in the font's units


@dataclass
class Document:
    """A statement's pages being drawn, then written with `save`."""

    font_set: FontSet
    pages: list[list[str]] = field(default_factory=list)
    used: dict[int, set[int]] = field(default_factory=dict)  # font index -> glyphs printed
    page: int = -1  # the page drawn on: the last added, or one turned back to (`turn_to`)

    def add_page(self) -> None:
        self.pages.append([])
        self.page = len(self.pages) - 1

    def turn_to(self, page: int) -> None:
        """Draw on page number `page` (0 the first) again: its footer, once the pages are counted."""
        self.page = page

    @property
    def fonts(self) -> tuple[EmbeddedFont, ...]:
        return self.font_set.fonts

    def width(self, text: str, size: float) -> float:
        """The width of `text` at `size` points in millimetres, each character in its font."""
        return self.font_set.width(text, size)

    def text(self, x: float, y: float, text: str, size: float, gray: float = 0.0) -> None:
        """`text` from `x` on the baseline `y` (millimetres), in shade `gray` (0 black, 1 white)."""
        runs = self.font_set.runs(text)
        if not runs:
            return
        operators = [f"{_number(gray)} g BT"]
        move = f"{_number(x * PT_PER_MM)} {_number((A4_MM[1] - y) * PT_PER_MM)}"
        for run in runs:
            self.used.setdefault(run.font, set()).update(run.glyphs)
            operators.append(f"/F{run.font} {_number(size)} Tf {move} Td <{run.shown}> Tj")
            # the next run starts where this one ends: Td moves from the start of this run
            move = f"{_number(run.advance * size / self.fonts[run.font].units_per_em)} 0"
        operators.append("ET")
        self.pages[self.page].append(" ".join(operators))

    def rectangle(self, x: float, y: float, width: float, height: float, gray: float) -> None:
        bottom = (A4_MM[1] - y - height) * PT_PER_MM
        self.pages[self.page].append(f"{_number(gray)} g {_number(x * PT_PER_MM)} {_number(bottom)} "
                                     f"{_number(width * PT_PER_MM)} {_number(height * PT_PER_MM)} re f")

    def rule(self, x1: float, y: float, x2: float, thickness: float = 0.2) -> None:
        """A black horizontal line from `x1` to `x2` at `y`."""
        level = _number((A4_MM[1] - y) * PT_PER_MM)
        self.pages[self.page].append(f"0 G {_number(thickness * PT_PER_MM)} w {_number(x1 * PT_PER_MM)} {level} m "
                              f"{_number(x2 * PT_PER_MM)} {level} l S")

    def save(self, path: Path, title: str, author: str, created: dt.date) -> None:
        path.write_bytes(self.bytes(title, author, created))

    def bytes(self, title: str, author: str, created: dt.date) -> bytes:
        objects: list[bytes] = []

        def add(body: bytes) -> int:
            objects.append(body)
            return len(objects)

        def stream(data: bytes, extra: str = "") -> int:
            packed = zlib.compress(data, 6)
            return add(f"<< /Length {len(packed)} /Filter /FlateDecode{extra} >>\nstream\n".encode("ascii")
                       + packed + b"\nendstream")

        catalog = add(b"")  # filled in once the page tree's number is known
        info = add(b"<< /Title " + _text_string(title) + b" /Author " + _text_string(author)
                   + b" /Creator (billrecon) /Producer (billrecon) /CreationDate "
                   + _text_string(f"D:{created:%Y%m%d}000000Z") + b" >>")
        resources = " ".join(f"/F{index} {self._font_objects(index, add, stream)} 0 R"
                             for index in sorted(self.used))
        tree = add(b"")
        kids = []
        for operators in self.pages:
            contents = stream("\n".join(operators).encode("ascii"))
            kids.append(add(f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {_number(A4_MM[0] * PT_PER_MM)} "
                            f"{_number(A4_MM[1] * PT_PER_MM)}] /Resources << /Font << {resources} >> >> "
                            f"/Contents {contents} 0 R >>".encode("ascii")))
        objects[tree - 1] = (f"<< /Type /Pages /Kids [{' '.join(f'{kid} 0 R' for kid in kids)}] "
                             f"/Count {len(kids)} >>").encode("ascii")
        objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R >>".encode("ascii")
        out, offsets = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"], []
        size = len(out[0])
        for number, body in enumerate(objects, start=1):
            offsets.append(size)
            chunk = f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
            out.append(chunk)
            size += len(chunk)
        out.append(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii"))
        out.append("".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode("ascii"))
        out.append(f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n"
                   f"startxref\n{size}\n%%EOF\n".encode("ascii"))
        return b"".join(out)

    def _font_objects(self, index: int, add, stream) -> int:
        """The objects of one embedded font (Type 0, its CID font, descriptor, program and character
        map); returns the number of the Type 0 font."""
        font, glyphs = self.fonts[index], sorted(self.used[index])
        program = font.program(set(glyphs))
        # a subset's name starts with six capitals of its own (ISO 32000 9.6.4)
        tag = "".join(chr(65 + byte % 26) for byte in hashlib.sha256(program).digest()[:6])
        base = f"/{tag}+{font.name}"
        file = stream(program, f" /Length1 {len(program)}")
        x_min, y_min, x_max, y_max = font.bbox
        descriptor = add(f"<< /Type /FontDescriptor /FontName {base} /Flags 4 /FontBBox [{x_min} {y_min} {x_max} "
                         f"{y_max}] /ItalicAngle 0 /Ascent {font.ascent} /Descent {font.descent} /CapHeight "
                         f"{font.cap_height} /StemV 80 /FontFile2 {file} 0 R >>".encode("ascii"))
        widths = " ".join(f"{glyph} [{round(font.advances[glyph] * 1000 / font.units_per_em)}]" for glyph in glyphs)
        cid_font = add(f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont {base} /CIDSystemInfo << /Registry (Adobe) "
                       f"/Ordering (Identity) /Supplement 0 >> /FontDescriptor {descriptor} 0 R /W [{widths}] "
                       f"/CIDToGIDMap /Identity >>".encode("ascii"))
        to_unicode = stream(_to_unicode(font, set(glyphs)))
        return add(f"<< /Type /Font /Subtype /Type0 /BaseFont {base} /Encoding /Identity-H /DescendantFonts "
                   f"[{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>".encode("ascii"))


def _to_unicode(font: EmbeddedFont, glyphs: set[int]) -> bytes:
    """The character map readers use to copy text: each printed glyph's character."""
    character_of: dict[int, str] = {}
    for character, glyph in sorted(font.glyph_of.items()):
        if glyph in glyphs:
            character_of.setdefault(glyph, character)
    pairs = [f"<{glyph:04x}> <{character.encode('utf-16-be').hex()}>"
             for glyph, character in sorted(character_of.items())]
    blocks = [f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar"
              for chunk in (pairs[start:start + 100] for start in range(0, len(pairs), 100))]
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n" + "\n".join(blocks) +
            "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")
