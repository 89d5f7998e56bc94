"""The translator's gate: every problem of a locale, one line each."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from . import build as builder, clinic as clinic_lib, glossary, locales, render, workarounds
from .catalog import Stats
from .clinic import Clinic
from .errors import HandoutError
from .fitcache import FitCache
from .locales import SOURCE_LOCALE
from .project import Project


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self):
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Fit:
    """How one locale fits one paper, with or without a clinic box."""

    paper: str
    clinic: bool
    spare_mm: float  # room under the last line; negative: it overflows by that much
    fits: bool
    grown: tuple | None = None  # (section, mm): what grew most against the English, if it does not fit

    @property
    def name(self) -> str:
        size = {"a4": "A4", "letter": "Letter"}.get(self.paper, self.paper)
        return f"{size} with clinic" if self.clinic else size


@dataclass
class Report:
    code: str
    problems: list
    stats: Stats | None = None
    fits: bool | None = None
    paper: str = ""
    review: dict | None = None
    overflow_mm: float = 0.0
    fit_table: list = field(default_factory=list)  # Fit per paper x clinic checked


def check_locale(inputs: builder.Inputs, renderer: render.Renderer, code: str, paper: str = "auto", layout: bool = True,
                 clinic: Clinic | None = None, matrix: list[tuple[str, Clinic | None]] | None = None,
                 fit_cache: FitCache | None = None) -> Report:
    """Everything wrong with ``code``; fills a Report.

    The fit is checked on ``paper`` with ``clinic`` or, given ``matrix``,
    on each (paper, clinic or None) of it. With ``fit_cache``, a fit
    computed before from the same inputs is taken from it (``renderer`` is
    then not used), and a new one is stored in it."""
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
        for at, gap in builder.gaps(state):
            report.problems.append(Problem(f"{at}:{gap.line}" if gap.line else at, gap.message))
        for at, line, text in state.problems:
            report.problems.append(Problem(f"{at}:{line}", text))
        try:
            terms = glossary.load(project, code)
        except HandoutError as error:
            report.problems.append(Problem(error.where or where, error.message + (f" ({error.hint})" if error.hint else "")))
            terms = []
        glossary_file = project.relative(glossary.path_for(project, code))
        assert state.loaded is not None  # a translated locale's catalog was read
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
        combos = matrix or [(report.paper, clinic)]
        key = fit_cache.key(code, combos) if fit_cache is not None else None
        entry = fit_cache.get(key, code) if fit_cache is not None and key is not None else None
        if entry is not None:
            report.fit_table += [Fit(f["paper"], f["clinic"], f["spare_mm"], f["fits"],
                                     tuple(f["grown"]) if f["grown"] is not None else None) for f in entry["fits"]]
            report.problems += [Problem(at, message) for at, message in entry["problems"]]
        else:
            known = len(report.problems)
            _check_fits(inputs, renderer, code, combos, clinic, report, where)
            if fit_cache is not None and key is not None:
                fit_cache.put(key, code, [{"paper": f.paper, "clinic": f.clinic, "spare_mm": f.spare_mm, "fits": f.fits,
                                           "grown": list(f.grown) if f.grown is not None else None}
                                          for f in report.fit_table],
                              [(p.where, p.message) for p in report.problems[known:]])
        report.fit_table.sort(key=lambda f: (f.paper, f.clinic))  # A4, A4 with clinic, Letter, ...
        report.fits = all(f.fits for f in report.fit_table) if report.fit_table else None
        if report.fit_table:
            report.overflow_mm = -min(f.spare_mm for f in report.fit_table)
    return report


class _LazyRenderer:
    """A render.Renderer made when first used, WeasyPrint imported then."""

    def __init__(self, project, manifest):
        self._args, self._renderer = (project, manifest), None

    def __getattr__(self, name):
        if self._renderer is None:
            workarounds.load_weasyprint()
            self._renderer = render.Renderer(*self._args)
        return getattr(self._renderer, name)


def lazy_renderer(project: Project, manifest) -> render.Renderer:
    """A Renderer made (and WeasyPrint imported, the quick way) only when a
    page is laid out: a locale with problems, or whose fit is remembered
    (fitcache), needs none."""
    return cast(render.Renderer, _LazyRenderer(project, manifest))


def _check_fits(inputs, renderer, code, combos, clinic, report, where):
    """Lay ``code`` out on each (paper, clinic) of ``combos``; fill ``report``."""
    project = inputs.project
    for combo_paper, combo_clinic in combos:
        if combo_clinic is not None and combo_clinic is not clinic:
            try:
                clinic_lib.check_glyphs(combo_clinic, inputs.manifest, project.fonts_dir, code)
            except HandoutError as error:
                report.problems.append(Problem(error.where, f"{error.message} ({error.hint})"))
                continue
        if not _check_fit(inputs, renderer, code, combo_paper, combo_clinic, report, where):
            break


def _check_fit(inputs, renderer, code, paper, clinic, report, where):
    """Add the Fit of one combination to ``report``; False when the clinic box
    itself is refused (the same for every paper: no need to go on)."""
    try:
        fits, overflow, longest, overrun, heights = fit(inputs, renderer, code, paper, clinic)
    except clinic_lib.BoxError as error:  # the clinic box does not hold a field; other errors
        # (a template that is a link, say) are the project's: one line, raised
        report.problems.append(Problem(error.where or where, error.message + (f" ({error.hint})" if error.hint else "")))
        return False
    # The English is laid out for comparison only where the page does not fit.
    grown = _grown(inputs, renderer, code, paper, clinic, heights) if not fits else None
    entry = Fit(paper, clinic is not None, -overflow, fits, grown)
    report.fit_table.append(entry)
    if overrun is not None:
        report.problems.append(Problem(where, f"{entry.name}: {overrun.message} ({overrun.hint})"))
    elif not fits:
        box = " with the clinic box" if clinic is not None else ""
        growth = (f"; grew most against the English: '{grown[0]}' (+{grown[1]:.0f} mm)" if grown and grown[1] > 0
                  else f"; longest section: '{longest[0]}' ({longest[1]:.0f} mm)")
        report.problems.append(Problem(
            where, f"does not fit one {paper} page{box}: it overflows by about {overflow:.0f} mm{growth}"))
    return True


def _grown(inputs, renderer, code, paper, clinic, heights):
    """(section, mm) that grew most against the English on the same paper and
    box (the reference list stays English, so it is never the one)."""
    if code == SOURCE_LOCALE:
        return None
    key = ("heights", paper, clinic.path if clinic is not None else None)
    if key not in inputs.baselines:
        inputs.baselines[key] = dict(fit(inputs, renderer, SOURCE_LOCALE, paper, clinic)[4])
    english = inputs.baselines[key]
    growth = [(name, mm - english.get(name, 0.0)) for name, mm in heights if name != "references"]
    return max(growth, key=lambda item: item[1]) if growth else None


def fit(inputs: builder.Inputs, renderer: render.Renderer, code: str, paper: str, clinic: Clinic | None = None
        ) -> tuple[bool, float, tuple[str, float], HandoutError | None, list[tuple[str, float]]]:
    """(fits, overflow in mm, (longest section, mm), overrun, section heights)
    for ``code`` on ``paper``: fitting is one page, and no text wider than its
    column (``overrun`` is the HandoutError build would raise for that, or None)."""
    _value, _html, document = builder.laid_out(inputs, renderer, code, builder.Options(paper=paper), clinic)
    heights = render.section_heights(document)
    longest = heights[0] if heights else ("", 0.0)
    overrun = render.overrun_error(document, code)
    if len(document.pages) == 1:
        clinic_lib.check_box(document, clinic, code)
        return overrun is None, -render.spare_mm(document), longest, overrun, heights
    return False, render.overflow_mm(document), longest, overrun, heights


# The clinic box a fit is checked with when no --clinic is given: the example
# profile (every field filled, a logo and a QR code), if the project has it.
EXAMPLE_CLINIC = ("examples", "clinics", "riverside.toml")


def example_clinic(project: Project) -> Clinic | None:
    path = project.root.joinpath(*EXAMPLE_CLINIC)
    return clinic_lib.load(path) if path.is_file() else None


def matrix(paper: str, clinic: Clinic | None, first: str = "a4") -> list[tuple[str, Clinic | None]]:
    """The (paper, clinic) combinations to check: both papers unless one is
    given, ``first`` (the locale's own) first; without a clinic and with
    ``clinic`` (if any)."""
    sizes = tuple(sorted(("a4", "letter"), key=lambda size: size != first)) if paper == "auto" else (paper,)
    return [(size, box) for size in sizes for box in ((None, clinic) if clinic is not None else (None,))]


def run(project: Project, codes: Iterable[str], paper: str = "auto", layout: bool = True, clinic: Clinic | None = None,
        papers: dict[str, str] | None = None) -> list[Report]:
    """Reports for ``codes``, each checked on both papers (or ``paper``, or
    the one ``papers`` gives the code), without a clinic box and with
    ``clinic`` (default: the example clinic)."""
    inputs = builder.load_inputs(project)
    renderer = lazy_renderer(project, inputs.manifest)
    papers = papers or {}
    box = clinic if clinic is not None else example_clinic(project)
    return [check_locale(inputs, renderer, code, papers.get(code, paper), layout, clinic,
                         matrix=matrix(papers.get(code, paper), box, builder.choose_paper("auto", clinic,
                                                                                           locales.info(code))))
            for code in codes]


