"""The statements' PDF writer (reports/statement_pdf.py), read back by fontTools and pypdf: each
embedded font keeps the glyph numbers and widths of the month's font and the outlines of exactly
the glyphs printed (a composite's parts with it), its checksums are the format's; the file's cross
reference table points at each object; text is copied back as it was written, in two fonts."""

import datetime as dt
import io
import re
import struct

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.recordingPen import RecordingPen
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from reports.customer_statements import _wrap
from reports.statement_fonts import MonthFonts
from reports.statement_pdf import Document, EmbeddedFont, _checksum

THAI = "บริษัท"
TEXT = "Bosphorus Bilişim A.Ş. 深圳市"


@pytest.fixture(scope="module")
def fonts(tmp_path_factory):
    return MonthFonts.prepare(tmp_path_factory.mktemp("fonts"), TEXT + THAI + "云端科技")


def written(fonts, lines):
    pdf = Document(fonts.read().for_text("".join(lines)))
    pdf.add_page()
    for number, line in enumerate(lines):
        pdf.text(20, 30 + 10 * number, line, 11)
    return pdf, pdf.bytes("Statement – 深圳", "Issuer (partner)", dt.date(2026, 9, 30))


def embedded_fonts(data: bytes) -> dict[str, TTFont]:
    page = PdfReader(io.BytesIO(data)).pages[0]
    found = {}
    for font in page["/Resources"]["/Font"].values():
        program = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]["/FontFile2"].get_data()
        found[font["/BaseFont"].split("+")[1]] = TTFont(io.BytesIO(program))
    return found


def outlined(font: TTFont) -> set[str]:
    glyphs = font.getGlyphSet()
    drawn = set()
    for name in font.getGlyphOrder()[1:]:  # .notdef is always kept
        pen = RecordingPen()
        glyphs[name].draw(pen)
        if pen.value:
            drawn.add(name)
    return drawn


def test_the_embedded_font_keeps_glyph_numbers_and_only_the_printed_outlines(fonts):
    _, data = written(fonts, ["Aş"])
    (name, embedded), = embedded_fonts(data).items()
    month = TTFont(str(fonts.fonts[0].path))
    assert name == "WenQuanYiMicroHei"
    assert embedded.getGlyphOrder() == month.getGlyphOrder()
    assert embedded["hmtx"].metrics == month["hmtx"].metrics
    cmap = month.getBestCmap()
    # ş is drawn from s and a cedilla: both parts keep their outlines, no other glyph does
    composite = month["glyf"][cmap[ord("ş")]]
    parts = {component.glyphName for component in composite.components}
    assert composite.isComposite() and parts
    assert outlined(embedded) == {cmap[ord("A")], cmap[ord("ş")]} | parts - {".notdef"}


def test_the_embedded_font_s_checksums_are_the_format_s(fonts):
    _, data = written(fonts, ["Acme 深圳"])
    page = PdfReader(io.BytesIO(data)).pages[0]
    font = next(iter(page["/Resources"]["/Font"].values()))
    program = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]["/FontFile2"].get_data()
    assert _checksum(program) == 0xB1B0AFBA  # the whole file, with head's checkSumAdjustment
    tables = struct.unpack(">H", program[4:6])[0]
    for number in range(tables):
        tag, checksum, offset, length = struct.unpack(">4sIII", program[12 + 16 * number:28 + 16 * number])
        data_of_table = bytearray(program[offset:offset + length])
        if tag == b"head":
            data_of_table[8:12] = b"\0\0\0\0"
        assert _checksum(bytes(data_of_table)) == checksum, tag


def test_text_in_two_fonts_reads_back_and_each_font_is_embedded_once(fonts):
    pdf, data = written(fonts, [f"Billed to {THAI} {TEXT}", "Total due USD 1.00"])
    reader = PdfReader(io.BytesIO(data), strict=True)
    assert reader.pages[0].extract_text().splitlines() == [f"Billed to {THAI} {TEXT}", "Total due USD 1.00"]
    assert sorted(embedded_fonts(data)) == ["NotoSansThai", "WenQuanYiMicroHei"]
    assert reader.metadata.title == "Statement – 深圳" and reader.metadata.author == "Issuer (partner)"
    assert reader.metadata["/CreationDate"] == "D:20260930000000Z"
    # the cross-reference table points at each object's first byte
    offsets = re.search(rb"xref\n0 (\d+)\n0000000000 65535 f \n((?:\d{10} 00000 n \n)+)", data)
    for number, line in enumerate(offsets.group(2).splitlines(), start=1):
        assert data[int(line[:10]):].startswith(f"{number} 0 obj\n".encode())
    assert pdf.width("AA", 10) == 2 * pdf.width("A", 10) > 0


def test_a_line_breaks_at_spaces_and_a_word_longer_than_the_line_at_characters(fonts):
    pdf = Document(fonts.read().for_text(TEXT))
    width = pdf.width("Bosphorus Bilişim", 10)
    assert _wrap(pdf, "Bosphorus Bilişim A.Ş. Bosphorus", width, 10) == ["Bosphorus Bilişim", "A.Ş. Bosphorus"]
    long_word = "深圳市" * 10
    lines = _wrap(pdf, f"to {long_word}", pdf.width("深圳市深圳", 10), 10)
    assert lines[0] == "to" and "".join(lines[1:]) == long_word
    assert all(pdf.width(line, 10) <= pdf.width("深圳市深圳", 10) for line in lines)
    assert _wrap(pdf, "", width, 10) == [""]
    assert _wrap(pdf, "Acme\nA.Ş.", width, 10) == ["Acme", "A.Ş."]  # a name's own line break is kept


def test_a_font_with_postscript_outlines_is_refused_with_what_to_use_instead(tmp_path):
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    pen = T2CharStringPen(500, None)
    pen.moveTo((0, 0))
    pen.lineTo((500, 700))
    pen.closePath()
    outline = pen.getCharString()
    builder.setupCFF("Postscript", {"FullName": "Postscript"}, {".notdef": outline, "A": outline}, {})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "A": (500, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Postscript", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(tmp_path / "postscript.otf"))
    with pytest.raises(ValueError, match=r"^postscript\.otf: the statements embed TrueType outlines, and this font's "
                                         r"are PostScript \(CFF\); add the font's TrueType version to FONT_SOURCES"):
        EmbeddedFont.read(tmp_path / "postscript.otf", "Postscript")


def test_a_composite_drawn_from_a_composite_keeps_every_part_s_outline(tmp_path):
    builder = FontBuilder(1000, isTTF=True)
    names = [".notdef", "A", "B", "C", "D"]
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(name): name for name in names[1:]})
    glyphs = {}
    for name in (".notdef", "A", "D"):
        pen = TTGlyphPen(None)
        pen.moveTo((0, 0))
        pen.lineTo((400, 700))
        pen.lineTo((0, 700))
        pen.closePath()
        glyphs[name] = pen.glyph()
    for name, part in (("B", "A"), ("C", "B")):  # C is drawn from B, B from A
        pen = TTGlyphPen(glyphs)
        pen.addComponent(part, (1, 0, 0, 1, 50, 0))
        glyphs[name] = pen.glyph()
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (500, 0) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Nested", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(tmp_path / "nested.ttf"))
    font = EmbeddedFont.read(tmp_path / "nested.ttf", "Nested")
    embedded = TTFont(io.BytesIO(font.program({font.glyph_of["C"]})))
    assert outlined(embedded) == {"A", "B", "C"}  # not D, which nothing printed draws from


def test_documents_with_the_same_fonts_share_what_was_worked_out_and_write_the_same_bytes(fonts, monkeypatch):
    from reports import statement_pdf

    read = fonts.read()
    latin, thai = read.for_text("Bosphorus"), read.for_text(THAI)
    assert read.for_text("A.Ş. 深圳市") is latin and thai is not latin  # Thai needs a fallback font
    assert len(latin.fonts) == 1 and len(thai.fonts) == 2
    lines = ["Bosphorus Bilişim", f"深圳市 {THAI}", "Bosphorus Bilişim"]
    _, first = written(fonts, lines)  # a fresh ReadFonts: nothing worked out yet
    pdf = Document(read.for_text("".join(lines)))
    pdf.add_page()
    for number, line in enumerate(lines):
        pdf.text(20, 30 + 10 * number, line, 11)
    before = dict(pdf.font_set._runs)
    assert set(before) == set(lines)  # each text split into runs once, the repeated one too
    assert pdf.bytes("Statement – 深圳", "Issuer (partner)", dt.date(2026, 9, 30)) == first
    # a month of more different texts than kept starts again instead of growing
    monkeypatch.setattr(statement_pdf, "_KEPT_TEXTS", 3)
    for text in ("a", "b", "c", "d"):
        latin.width(text, 10)
    assert list(latin._widths) == [("d", 10)]
