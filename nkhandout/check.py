"""The translator's gate: every problem of a locale, one line each."""

from dataclasses import dataclass

from . import build as builder, catalog, clinic as clinic_lib, glossary, locales, render
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
        for gap in catalog.gaps(state.loaded.catalog, inputs.pot):
            report.problems.append(Problem(f"{where}:{gap.line}" if gap.line else where, gap.message))
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
    try:
        builder.check_glyphs(inputs, code, state)
    except HandoutError as error:
        report.problems.append(Problem(error.where or where, error.message + (f" ({error.hint})" if error.hint else "")))
        return report
    if clinic is not None:
        try:
            clinic_lib.check_glyphs(clinic, inputs.manifest, project.fonts_dir, code)
        except HandoutError as error:
            report.problems.append(Problem(error.where, f"{error.message} ({error.hint})"))
    if layout and not report.problems:
        try:
            report.fits, report.overflow_mm, longest, overrun = fit(inputs, renderer, code, report.paper, clinic)
        except clinic_lib.BoxError as error:  # the clinic box does not hold a field; other errors
            # (a template that is a link, say) are the project's: one line, raised
            report.problems.append(Problem(error.where or where, error.message + (f" ({error.hint})" if error.hint else "")))
            return report
        if overrun is not None:
            report.fits = False
            report.problems.append(Problem(where, overrun.message + f" ({overrun.hint})"))
        elif not report.fits:
            report.problems.append(Problem(
                where, f"does not fit one {report.paper} page: it overflows by about "
                f"{report.overflow_mm:.0f} mm; longest section: '{longest[0]}' ({longest[1]:.0f} mm)"))
    return report


def fit(inputs, renderer, code, paper, clinic=None):
    """(fits, overflow in mm, (longest section, mm), overrun) for ``code`` on
    ``paper``: fitting is one page, and no text wider than its column
    (``overrun`` is the HandoutError build would raise for that, or None)."""
    value, _state = builder.prepare(inputs, code, draft=False, paper=paper, clinic=clinic)
    html = render.to_html(value, renderer.env)
    document = renderer.layout(value, html)
    heights = render.section_heights(document)
    longest = heights[0] if heights else ("", 0.0)
    overrun = render.overrun_error(document, code)
    if len(document.pages) == 1:
        clinic_lib.check_box(document, clinic, code)
        return overrun is None, -render.spare_mm(document), longest, overrun
    return False, render.overflow_mm(document), longest, overrun


def run(project, codes, paper="auto", layout=True, clinic=None, papers=None):
    """Reports for ``codes``; ``papers`` may give a code its own paper."""
    inputs = builder.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    papers = papers or {}
    return [check_locale(inputs, renderer, code, papers.get(code, paper), layout, clinic) for code in codes]


