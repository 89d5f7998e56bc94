"""Large print: the same handout with every text at least 16pt, on at most two pages.

For patients who ask for an accessible format. Same content, template and
checks as the one-page sheet; templates/large-print.css is added after
print.css. Written as ``<name>.<code>.large.pdf``, beside the usual PDF.
"""

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from . import batch, build as builder, files, incremental, render
from .errors import HandoutError
from .handout import Handout
from .project import Project

if TYPE_CHECKING:
    from weasyprint import Document

STYLESHEET = "large-print.css"
MAX_PAGES = 2
SUFFIX = ".large.pdf"


class LargePrintRenderer(render.Renderer):
    """A Renderer whose stylesheets end with the large-print one."""

    def stylesheets(self, code: str, paper: str) -> list:
        from weasyprint import CSS

        sheets = super().stylesheets(code, paper)
        if ("large",) not in self._css:
            self._css[("large",)] = CSS(filename=str(self.project.templates_dir / STYLESHEET),
                                        url_fetcher=self.fetcher(), font_config=self._font_config)
        return [*sheets, self._css[("large",)]]


def render_one(renderer: LargePrintRenderer, value: Handout) -> tuple["Document", str]:
    """Lay out one large-print handout; refuse more than two pages."""
    html = render.to_html(value, renderer.env)
    document = renderer.layout(value, html)
    if len(document.pages) > MAX_PAGES:
        over = render.overflow_mm(SimpleNamespace(pages=document.pages[MAX_PAGES - 1:]))
        raise HandoutError(
            f"large print takes {len(document.pages)} pages: it overflows {MAX_PAGES} pages by about "
            f"{over:.0f} mm", f"locale {value.code}", "shorten the text")
    return document, html


def build(project: Project, codes: Iterable[str], *, out_dir: Path | str | None = None, draft: bool = False,
          paper: str = "auto", require_reviewed: bool = False, clinic_paths: Sequence[Path | str] = (),
          only_complete: bool = False, force: bool = False, log: Callable[[str], object] | None = None) -> batch.Result:
    """Write ``<name>.<code>.large.pdf`` for each locale (and clinic); return a batch.Result.

    Skipped, like `build`, when the inputs did not change."""
    out = Path(out_dir or project.handouts_dir)
    files.ensure_dir(out)
    result = batch.Result()
    name = batch.handout_name(project) or "handout"
    options = (("draft", draft), ("paper", paper), ("require_reviewed", require_reviewed), ("large_print", True))
    shared = incremental.shared_hash(project)
    inputs = renderer = complete = None
    for folder, slug, clinic in batch.clinic_folders(out, clinic_paths):
        if isinstance(clinic, HandoutError):  # read and validated once, before hashing
            result.failures += [builder.Failure(code, slug, clinic) for code in codes]
            continue
        for code in codes:
            target = folder / f"{name}.{code}{SUFFIX}"
            key = incremental.input_hash(project, code, clinic, options, shared)
            if not force and incremental.up_to_date(target, key):
                result.skipped.append(target)
                continue
            try:
                if inputs is None:
                    inputs = builder.load_inputs(project)
                    renderer = LargePrintRenderer(project, inputs.manifest)
                    complete = set(builder.complete_locales(project, inputs)) if only_complete else None
                if complete is not None and code not in complete:
                    continue
                assert renderer is not None  # made with inputs
                value = builder.prepare(inputs, code, builder.Options(draft, paper, require_reviewed), clinic)
                document, html = render_one(renderer, value)
                files.write_output(target, renderer.pdf_bytes(value, document, html), out, "PDF")
                try:
                    incremental.record(target, key)
                except OSError as error:
                    raise HandoutError(f"cannot write the PDF's stamp: {error.strerror or error}", str(target)) from None
            except HandoutError as error:
                result.failures.append(builder.Failure(code, slug, error))
                continue
            result.written.append(target)
            if log:
                log(f"wrote {target}")
    return result
