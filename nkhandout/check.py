"""The translator's gate: every problem of a locale, one line each."""

import gettext
import re
from dataclasses import dataclass

from babel.dates import format_date
from babel.messages.plurals import get_plural

from . import build as builder, fonts, glossary, locales, markup, render
from .errors import HandoutError
from .locales import SOURCE_LOCALE


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self):
        return f"{self.where}: {self.message}"


@dataclass
class Report:
    code: str
    problems: list
    stats: object = None
    fits: bool | None = None
    paper: str = ""
    review: dict = None
    overflow_mm: float = 0.0


def _plural_problem(raw_header, code):
    match = re.fullmatch(r"\s*nplurals\s*=\s*(\d+)\s*;\s*plural\s*=\s*(.+?);?\s*", raw_header or "")
    expected = get_plural(code)
    if not match:
        return (f"Plural-Forms header is missing or malformed; it should be "
                f"\"nplurals={expected.num_plurals}; plural={expected.plural_expr};\"")
    try:
        gettext.c2py(match.group(2))
    except (ValueError, SyntaxError, RecursionError):
        return f"Plural-Forms expression {match.group(2)!r} is not valid"
    if int(match.group(1)) != expected.num_plurals:
        return (f"Plural-Forms says nplurals={match.group(1)} but {code} has "
                f"{expected.num_plurals} plural forms")
    return None


def check_locale(inputs, renderer, code, paper="auto", layout=True, clinic=None):
    """Everything wrong with ``code``; fills a Report."""
    project = inputs.project
    report = Report(code, [])
    path = project.catalog_file(code) if code != SOURCE_LOCALE else None
    where = project.relative(path) if path else project.relative(project.source_file)
    try:
        state = builder.locale_state(inputs, code)
    except HandoutError as error:
        report.problems.append(Problem(error.where or where, error.message + (f" ({error.hint})" if error.hint else "")))
        return report
    report.stats = state.stats
    report.review = state.review
    info = locales.info(code)
    report.paper = builder.choose_paper(paper, clinic, info)
    if path is not None:
        language = state.loaded.raw_language
        if not language or locales.canonical(language) != code:
            report.problems.append(Problem(f"{where}:1", f"Language header is {language!r}, expected {code!r}"))
        plural = _plural_problem(state.loaded.plural_forms, code)
        if plural:
            report.problems.append(Problem(f"{where}:1", plural))
        for message in inputs.pot:
            if not message.id:
                continue
            found = state.loaded.catalog.get(message.id, context=message.context)
            line = getattr(found, "lineno", 0) or 0
            if found is None or not found.string:
                report.problems.append(Problem(f"{where}:{line}" if line else where,
                                               f"{message.context}: untranslated"))
            elif found.fuzzy:
                report.problems.append(Problem(
                    f"{where}:{line}",
                    f"{message.context}: fuzzy (the English changed); check the translation, "
                    "then remove the fuzzy flag"))
        for line, text in sorted(state.problems, key=lambda problem: problem[0]):
            report.problems.append(Problem(f"{where}:{line}", text))
        try:
            terms = glossary.load(project, code)
        except HandoutError as error:
            report.problems.append(Problem(error.where or where, error.message + (f" ({error.hint})" if error.hint else "")))
            terms = []
        glossary_file = project.relative(glossary.path_for(project, code))
        for line, text in glossary.problems(terms, inputs.pot, state.translations,
                                            state.loaded.catalog, glossary_file):
            report.problems.append(Problem(f"{where}:{line}", text))
    # Glyphs: everything the page prints in this locale's fonts.
    texts = list(state.translations.values()) or [m.id for m in inputs.pot if m.id]
    texts.append(format_date(inputs.source.reviewed, format="long", locale=info.locale))
    texts += [markup.format_value(v, info.locale) for v in inputs.source.values.values()]
    try:
        fonts.check_installed(inputs.manifest, project.fonts_dir, code)
        missing = fonts.missing_glyphs("".join(texts), inputs.manifest, project.fonts_dir, code)
    except HandoutError as error:
        report.problems.append(Problem(error.where or where, error.message))
        return report
    if missing:
        shown = " ".join(f"{c} (U+{ord(c):04X})" for c in missing[:8])
        report.problems.append(Problem(where, f"the fonts for {code} cannot draw: {shown}"))
    if layout and not report.problems:
        report.fits, report.overflow_mm, longest = fit(inputs, renderer, code, report.paper, clinic)
        if not report.fits:
            report.problems.append(Problem(
                where, f"does not fit one {report.paper} page: it overflows by about "
                f"{report.overflow_mm:.0f} mm; longest section: '{longest[0]}' ({longest[1]:.0f} mm)"))
    return report


def fit(inputs, renderer, code, paper, clinic=None):
    """(fits, overflow in mm, (longest section, mm)) for ``code`` on ``paper``."""
    value, _state = builder.prepare(inputs, code, draft=False, paper=paper, clinic=clinic)
    html = render.to_html(value, renderer.env)
    document = renderer.layout(value, html)
    heights = render.section_heights(document)
    longest = heights[0] if heights else ("", 0.0)
    if len(document.pages) == 1:
        return True, -render.spare_mm(document), longest
    return False, render.overflow_mm(document), longest


def run(project, codes, paper="auto", layout=True, clinic=None):
    """Reports for ``codes``."""
    inputs = builder.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    return [check_locale(inputs, renderer, code, paper, layout, clinic) for code in codes]


