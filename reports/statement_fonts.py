"""The customer statements' fonts: prepared once per month, a small subset embedded in each PDF.

Text is set in WenQuanYi Micro Hei (shipped by the ``paperang-p2-fonts-cjk`` wheel): Chinese and the
Latin letters of names such as "Bilişim A.Ş.". What it lacks, Thai, comes from Noto Sans Thai
(the ``fontpkg-noto-sans-thai`` wheel, its Regular instance), as the fallback font, embedded only in
the statements that print Thai. A character neither font has prints as nothing: `MonthFonts.missing`
holds those of the month, so the month close can say whose statement lacks them.

The WenQuanYi collection holds 35,000 glyphs and takes seconds to read, so each font is reduced once
per month to the characters of all the month's statements (`MonthFonts.prepare`); each process
rendering statements reads that small font once, and every statement embeds the outlines it prints
(``reports.statement_pdf``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from fontTools import subset
from fontTools.varLib import instancer

from reports.statement_pdf import EmbeddedFont, FontSet


@dataclass(frozen=True)
class FontSource:
    """A font file of a wheel; `axes` fixes a variable font at one instance."""

    family: str
    file: Traversable
    face: int = 0  # the font of a collection
    axes: Mapping[str, float] = field(default_factory=dict)


PRIMARY_FONT = FontSource("WenQuanYiMicroHei", files("paperang_p2_fonts_cjk").joinpath("fonts/wqy-microhei.ttc"),
                          face=0)  # the collection's proportional face (1 is the monospaced one)
THAI_FONT = FontSource("NotoSansThai", files("fontpkg_noto_sans_thai").joinpath("files/NotoSansThai[wdth,wght].ttf"),
                       axes={"wght": 400, "wdth": 100})  # Regular
# In order of preference: a character is set in the first font that has it. TrueType fonts only
# (outlines in a 'glyf' table): reports.statement_pdf embeds those
FONT_SOURCES = (PRIMARY_FONT, THAI_FONT)

_ALWAYS = frozenset(map(chr, range(0x20, 0x7F)))  # printable ASCII: digits and labels need no listing


@dataclass(frozen=True)
class MonthFont:
    family: str
    path: Path
    characters: frozenset[str]


@dataclass(frozen=True)
class MonthFonts:
    """The month's fonts, the primary first, each reduced to the characters it sets."""

    fonts: tuple[MonthFont, ...]
    missing: frozenset[str]  # characters of the month that no font has

    @classmethod
    def prepare(cls, directory: Path, text: str, sources: Iterable[FontSource] = FONT_SOURCES) -> MonthFonts:
        """The fonts for the characters of `text` (and printable ASCII), written as TrueType files
        into `directory`; a fallback font none of `text` needs is left out."""
        wanted = set(text) | _ALWAYS
        fonts = []
        for index, source in enumerate(sources):
            font = _load(source)
            cmap = font.getBestCmap()
            own = frozenset(character for character in wanted if ord(character) in cmap)
            if index == 0 or own:
                path = directory / f"statement-font-{index}.ttf"
                _save_subset(font, source, own, path)
                fonts.append(MonthFont(source.family, path, own))
            wanted -= own
        return cls(tuple(fonts), frozenset(wanted))

    def read(self) -> ReadFonts:
        """The fonts read into memory, to render statements with (once per process)."""
        return ReadFonts(tuple((font, EmbeddedFont.read(font.path, font.family)) for font in self.fonts))

    def unprintable(self, text: str) -> str:
        """The characters of `text` no font has, in order of first appearance."""
        return "".join(dict.fromkeys(character for character in text if character in self.missing))


@dataclass(frozen=True)
class ReadFonts:
    """The month's fonts in memory, the primary first."""

    fonts: tuple[tuple[MonthFont, EmbeddedFont], ...]
    # one FontSet per choice of fonts, so that its statements share what it worked out
    _sets: dict[tuple[int, ...], FontSet] = field(default_factory=dict, init=False, compare=False, repr=False)

    def for_text(self, text: str) -> FontSet:
        """The fonts a statement of `text` embeds: the primary, and the fallbacks that set
        characters of `text` the primary lacks."""
        needed = set(text)
        chosen = (0, *(number for number, (font, _) in enumerate(self.fonts)
                       if number and not font.characters.isdisjoint(needed)))
        if chosen not in self._sets:
            self._sets[chosen] = FontSet(tuple(self.fonts[number][1] for number in chosen))
        return self._sets[chosen]


def _load(source: FontSource):
    font = subset.load_font(str(source.file), _options(source))
    if source.axes:
        instancer.instantiateVariableFont(font, dict(source.axes), inplace=True, static=True)
    return font


def _save_subset(font, source: FontSource, characters: frozenset[str], path: Path) -> None:
    # the WenQuanYi's FontForge timestamp table cannot be subset and is dropped: not worth a log line
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    options = _options(source)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(character) for character in characters))
    subsetter.subset(font)
    subset.save_font(font, str(path), options)


def _options(source: FontSource) -> subset.Options:
    options = subset.Options()
    options.font_number = source.face
    options.name_IDs = [1, 2, 3, 4, 6]  # family, style, unique id, full and PostScript names
    options.notdef_outline = True
    # A statement sets each character's glyph as it is (no shaping: no layout tables), unhinted
    # (screens and printers render these sizes well without; the hinting instructions inside each
    # glyph's outline were most of its bytes), horizontally, without glyph names
    options.drop_tables += ["GDEF", "GPOS", "GSUB"]
    options.hinting = False
    options.drop_tables += ["vhea", "vmtx"]
    options.glyph_names = False
    return options
