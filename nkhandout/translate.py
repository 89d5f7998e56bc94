"""Translator workflows: the template, new locales, updates, review marks."""

import datetime
import io

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from . import build as builder, catalog, files, locales
from .errors import HandoutError, UsageError
from .locales import SOURCE_LOCALE

HEADER_COMMENT = """\
# {language} translation of the nkhandout handout on NK cells and
# repeated miscarriage. Edit the msgstr lines in Poedit, Weblate or a
# text editor, then run: nkhandout check --lang {code}
# See TRANSLATING.md.
#"""

UNREVIEWED = {
    "X-Review-Status": "unreviewed",
    "X-Reviewed-By": "",
    "X-Review-Date": "",
    "X-Reviewed-Version": "",
}


def pot_text(inputs):
    buffer = io.BytesIO()
    write_po(buffer, inputs.pot, width=76, omit_header=False, sort_output=False)
    return buffer.getvalue().decode("utf-8")


def _write_if_changed(path, text):
    return files.write_if_changed(path, text.encode("utf-8"))


def init_locale(project, code):
    """Create content/locales/CODE.po from the template; return its path."""
    canonical = locales.canonical(code)
    if canonical is None:
        raise UsageError(f"{code!r} is not a locale Babel knows",
                         hint="use a code such as it, pt_BR or zh_Hant")
    if canonical == SOURCE_LOCALE:
        raise UsageError("en is the source language; it has no catalog")
    existing = {c.lower(): c for c in builder.available(project)}
    if canonical.lower() in existing:
        raise UsageError(f"locale {existing[canonical.lower()]} already exists",
                         hint=f"edit {project.relative(project.catalog_file(existing[canonical.lower()]))}")
    inputs = builder.load_inputs(project)
    info = locales.info(canonical)
    new = Catalog(locale=info.locale, project=catalog.PROJECT, version=inputs.source.version,
                  creation_date=inputs.pot.creation_date, revision_date="YEAR-MO-DA HO:MI+ZONE",
                  msgid_bugs_address="",
                  last_translator="", language_team=f"{info.native_name} <>",
                  charset="utf-8", fuzzy=False,
                  header_comment=HEADER_COMMENT.format(language=info.locale.english_name, code=canonical))
    for message in inputs.pot:
        if message.id:
            new.add(message.id, "", context=message.context, auto_comments=message.auto_comments,
                    locations=message.locations, flags=message.flags)
    loaded = catalog.Loaded(new, dict(UNREVIEWED), canonical)
    project.locales_dir.mkdir(parents=True, exist_ok=True)
    path = project.catalog_file(canonical)
    files.write_atomic(path, catalog.dump(loaded).encode("utf-8"))
    return path


def update(project):
    """Regenerate the template and merge it into every catalog.

    Returns {code: [changed contexts]} for the catalogs that changed. Every
    catalog is read and merged before anything is written, so a catalog that
    cannot be read leaves the template and all catalogs as they were.
    """
    inputs = builder.load_inputs(project)
    report = {}
    merged_texts = []
    for code in builder.available(project):
        if code == SOURCE_LOCALE:
            continue
        path = project.catalog_file(code)
        loaded = catalog.load(path, project.relative(path), locale=code, inside=project.content_dir)
        merged, changed = catalog.merge(loaded, inputs.pot)
        merged_texts.append((code, path, catalog.dump(merged), changed))
    _write_if_changed(project.template_file, pot_text(inputs))
    for code, path, text, changed in merged_texts:
        if _write_if_changed(path, text):
            report[code] = changed
    return report


def mark_reviewed(project, code, reviewer, day=None):
    """Record that a qualified reviewer checked ``code`` for this content version."""
    if not reviewer or not reviewer.strip():
        raise UsageError("say who reviewed it", hint='--by "Name, qualification"')
    catalog.check_header_value("--by", reviewer, UsageError)
    if day is not None:
        catalog.check_header_value("--date", day.isoformat(), UsageError)
    inputs = builder.load_inputs(project)
    state = builder.locale_state(inputs, code)
    if state.path is None:
        raise UsageError("en is the source language; review the content itself instead")
    where = project.relative(state.path)
    if not state.stats.complete or state.problems:
        raise HandoutError("only a complete catalog that passes `nkhandout check` can be marked reviewed", where)
    day = day or datetime.date.today()
    state.loaded.extra_headers.update({
        "X-Review-Status": "reviewed",
        "X-Reviewed-By": reviewer.strip().replace('"', "'"),
        "X-Review-Date": day.isoformat(),
        "X-Reviewed-Version": inputs.source.version,
    })
    files.write_atomic(state.path, catalog.dump(state.loaded).encode("utf-8"))
    return state.path
