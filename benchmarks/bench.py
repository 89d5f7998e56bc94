"""Benchmark nkhandout against the stock WeasyPrint command.

What it measures, each ``--runs`` times (default 5), reporting the median and
the spread (min-max) on this machine:

1. clean build of every shipped locale, whole process:
   ``nkhandout build --all --out EMPTY_DIR`` (a fresh folder each run); if the
   build has ``--jobs``, the default is timed and ``--jobs 1`` is an extra row;
2. the same command again into the same folder, nothing changed (no-op rebuild);
3. warm per-handout time in one process (prepare + layout + PDF bytes), per
   locale, after one warm-up handout of that locale;
4. a batch of 20 clinic profiles (copies of examples/clinics/riverside.toml with
   different names) x every locale: ``nkhandout build --all --clinic DIR``;
5. peak memory (max RSS) of 1 and 4, and the size of each PDF of run 1 of 1;
6. the baseline: ``weasyprint page.html out.pdf -s style.css`` on the Spanish
   handout's HTML, with a stylesheet made by hand from templates/print.css, an
   @page size rule and @font-face rules for templates/fonts.toml.

Whole-process times and memory come from a small wrapper process started
fresh for each run: it times the command, reads
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the peak RSS of the largest single
process of the command's tree) and, on Linux, samples the summed PSS of the
whole tree every 50 ms (the build forks worker processes).

Then it states each target and whether it is met, without failing: the exit
code is 0 whatever the timings, and 1 only when a command is broken so that a
measurement is impossible (the message says which).

Run it from the checkout:

    .venv/bin/python benchmarks/bench.py [--runs N] [--quick] [--json PATH]

``--quick`` (for a CI smoke test with ``--runs 1``) times three locales in
step 3 (en, es, zh_Hans) and three clinics in step 4.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Snapshot before the library runs: the renderer sets FONTCONFIG_FILE (and
# briefly SOURCE_DATE_EPOCH) in this process; the commands timed here must see
# the user's own environment.
ENV = dict(os.environ)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NKHANDOUT = BIN / "nkhandout"
WEASYPRINT = BIN / "weasyprint"
CLINIC_EXAMPLE = ROOT / "examples" / "clinics" / "riverside.toml"

QUICK_LOCALES = ("en", "es", "zh_Hans")
BATCH_CLINICS, QUICK_CLINICS = 20, 3
BASELINE_LOCALE = "es"
CJK_SCRIPTS = {"Hans", "Hant", "Hani", "Jpan", "Kore", "Hang"}

# Targets (reported, never enforced).
CLEAN_VS_BASELINE = 1.5
NOOP_VS_BASELINE = 0.25
WARM_LATIN_MS = 80
BATCH_WALL_S = 15
BATCH_RSS_MB = 250
SIZE_LATIN_KB, SIZE_CJK_KB = 60, 150

# Runs a command and writes to argv[1] its wall time, exit code, peak RSS of its
# largest process (getrusage) and, where /proc allows, the peak of the summed
# PSS of its whole process tree, sampled every 50 ms from a thread.
WRAPPER = r"""
import json, os, resource, subprocess, sys, threading, time

def tree(pid):
    pids = [pid]
    for p in pids:
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pids.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids

def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0

peak_tree = None
def sample(child, done):
    global peak_tree
    peak_tree = 0
    while not done.wait(0.05):
        peak_tree = max(peak_tree, sum(pss_kb(p) for p in tree(child.pid)))

start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
done = threading.Event()
if os.path.exists(f"/proc/{child.pid}/smaps_rollup"):
    threading.Thread(target=sample, args=(child, done), daemon=True).start()
code = child.wait()
wall = time.perf_counter() - start
done.set()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as out:
    json.dump({"wall": wall, "code": code, "maxrss": peak, "tree_pss": peak_tree}, out)
"""
RSS_METHOD = ("getrusage(RUSAGE_CHILDREN).ru_maxrss from a fresh wrapper process per run "
              "= peak RSS of the largest single process; 'tree' = peak of the summed PSS "
              "of the whole process tree, sampled every 50 ms from /proc")


class Broken(Exception):
    """A command failed in a way that makes a measurement impossible."""


# -- running and summarising ---------------------------------------------------


@dataclass
class Run:
    wall: float  # seconds
    rss_mb: float  # largest single process
    tree_mb: float | None  # summed PSS of the process tree, sampled (None without /proc)
    code: int
    stdout: str
    stderr: str


def run_measured(cmd, cwd=ROOT):
    """Run ``cmd`` in a fresh wrapper; return its wall time, exit code and peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        done = subprocess.run([sys.executable, "-S", "-c", WRAPPER, report.name, *map(str, cmd)],
                              cwd=cwd, env=ENV, capture_output=True, text=True)
        if done.returncode != 0:
            raise Broken(f"the timing wrapper failed: {tail(done.stderr)}")
        data = json.load(report)
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KB on Linux
    tree = data["tree_pss"] / 1024 if data["tree_pss"] else None
    return Run(data["wall"], data["maxrss"] / divisor, tree, data["code"], done.stdout, done.stderr)


def tail(text, lines=8):
    return "\n".join(text.strip().splitlines()[-lines:])


def require_success(run, what, cmd):
    if run.code != 0:
        raise Broken(f"{what}: `{' '.join(map(str, cmd))}` exited {run.code}:\n{tail(run.stderr)}")


def summary(values, unit):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values, "unit": unit}


def memory(runs):
    """(peak RSS of the largest process, peak summed PSS of the tree or None), in MB."""
    largest = summary([r.rss_mb for r in runs], "MB")
    trees = [r.tree_mb for r in runs]
    return largest, summary(trees, "MB") if all(trees) else None


def pdfs_in(folder):
    return sorted(Path(folder).rglob("*.pdf"))


def progress(message):
    print(f"... {message}", file=sys.stderr, flush=True)


# -- locales -------------------------------------------------------------------


def script_of(code):
    """The script a locale is written in (ISO 15924), from CLDR's likely subtags."""
    from babel.core import get_global, parse_locale

    language, _territory, script, _variant = parse_locale(code)
    if script:
        return script
    likely = get_global("likely_subtags").get(language)
    return parse_locale(likely)[2] if likely else None


def size_target_kb(code):
    """(target in KB, whether it is assumed: the Latin one for other scripts)."""
    script = script_of(code)
    if script in CJK_SCRIPTS:
        return SIZE_CJK_KB, False
    return SIZE_LATIN_KB, script != "Latn"


# -- the measurements ----------------------------------------------------------


def supports_jobs():
    done = subprocess.run([NKHANDOUT, "build", "--help"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise Broken(f"`nkhandout build --help` exited {done.returncode}:\n{tail(done.stderr)}")
    return "--jobs" in done.stdout


def clean_builds(work, runs, extra=()):
    """Step 1: ``build --all`` into a fresh empty folder per run."""
    results, folders = [], []
    for index in range(runs):
        out = Path(tempfile.mkdtemp(prefix="clean-", dir=work))
        cmd = [NKHANDOUT, "build", "--all", "--out", out, *extra]
        progress(f"clean build {' '.join(extra)} {index + 1}/{runs}".replace("  ", " "))
        run = run_measured(cmd)
        require_success(run, "clean build", cmd)
        if not pdfs_in(out):
            raise Broken(f"clean build: `{' '.join(map(str, cmd))}` wrote no PDF")
        results.append(run)
        folders.append(out)
    return results, folders[0]


def noop_rebuilds(out, runs):
    """Step 2: the same build again into a folder that already holds its output."""
    results = []
    for index in range(runs):
        cmd = [NKHANDOUT, "build", "--all", "--out", out]
        progress(f"no-op rebuild {index + 1}/{runs}")
        run = run_measured(cmd)
        require_success(run, "no-op rebuild", cmd)
        results.append(run)
    return results


def warm_per_handout(codes, runs):
    """Step 3: {code: [ms, ...]} or {code: "error"}, timed in this process."""
    from nkhandout import build, render
    from nkhandout.errors import HandoutError
    from nkhandout.project import Project

    project = Project.at()
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)

    def one(code):
        start = time.perf_counter()
        value = build.prepare(inputs, code)
        document, html = build.render_one(renderer, value)
        renderer.pdf_bytes(value, document, html)
        return (time.perf_counter() - start) * 1000

    results = {}
    for code in codes:
        progress(f"warm per-handout {code}")
        try:
            one(code)  # warm-up
            results[code] = [one(code) for _ in range(runs)]
        except HandoutError as error:
            results[code] = f"cannot build: {error}"
    if all(isinstance(r, str) for r in results.values()):
        raise Broken("warm per-handout: no locale could be built in-process: "
                     + "; ".join(f"{c}: {r}" for c, r in results.items()))
    return results


def write_clinics(folder, count):
    """``count`` copies of the example profile, named "Clinic 01"..., with its logo."""
    folder.mkdir()
    text = CLINIC_EXAMPLE.read_text("utf-8")
    logo = re.search(r'^logo\s*=\s*"([^"]+)"', text, re.M)
    if logo:
        shutil.copy(CLINIC_EXAMPLE.parent / logo.group(1), folder / logo.group(1))
    for number in range(1, count + 1):
        profile = re.sub(r'^name\s*=\s*"[^"]*"', f'name = "Clinic {number:02d}"', text, count=1, flags=re.M)
        (folder / f"clinic-{number:02d}.toml").write_text(profile, "utf-8")
    return folder


def batch_builds(work, clinics, runs):
    """Step 4: every clinic x every locale; a partial failure (exit 1) is recorded."""
    folder = write_clinics(work / "clinics", clinics)
    results, written = [], []
    for index in range(runs):
        out = Path(tempfile.mkdtemp(prefix="batch-", dir=work))
        cmd = [NKHANDOUT, "build", "--all", "--clinic", folder, "--out", out]
        progress(f"batch of {clinics} clinics {index + 1}/{runs}")
        run = run_measured(cmd)
        if run.code not in (0, 1):
            require_success(run, "clinic batch", cmd)
        if run.code == 1 and not pdfs_in(out):
            raise Broken(f"clinic batch wrote nothing (exit 1):\n{tail(run.stderr)}")
        results.append(run)
        written.append(len(pdfs_in(out)))
        shutil.rmtree(out)
    return results, written


def font_faces(project):
    """@font-face rules for every font of templates/fonts.toml, as file:// URLs."""
    import tomllib

    manifest = tomllib.loads((project.templates_dir / "fonts.toml").read_text("utf-8"))
    rules = []
    for font in manifest["font"]:
        uri = (project.fonts_dir / font["file"]).resolve().as_uri()
        rules.append(f'@font-face {{ font-family: "{font["family"]}"; font-weight: {font["weight"]}; '
                     f'src: url("{uri}"); }}')
    return "\n".join(rules)


def write_baseline_input(work):
    """page.html (the Spanish handout) and style.css, as a WeasyPrint user would."""
    from nkhandout import build, paper, render
    from nkhandout.errors import HandoutError
    from nkhandout.project import Project

    project = Project.at()
    inputs = build.load_inputs(project)
    renderer = render.Renderer(project, inputs.manifest)
    try:
        value = build.prepare(inputs, BASELINE_LOCALE)
    except HandoutError as error:
        raise Broken(f"baseline: cannot prepare the {BASELINE_LOCALE} handout: {error}") from None
    folder = work / "baseline"
    folder.mkdir()
    (folder / "page.html").write_text(render.to_html(value, renderer.env), "utf-8")
    css = "\n".join([
        (project.templates_dir / render.STYLESHEET).read_text("utf-8"),
        f"@page {{ size: {paper.CSS_NAMES[value.paper]}; }}",
        font_faces(project),
        'html { font-family: "NK Sans"; }',
    ])
    (folder / "style.css").write_text(css, "utf-8")
    return folder


def baseline_runs(folder, runs):
    """Step 6: the stock weasyprint command, whole process; returns runs and page count."""
    import pikepdf

    cmd = [WEASYPRINT, "page.html", "out.pdf", "-s", "style.css"]
    results = []
    for index in range(runs):
        progress(f"baseline weasyprint {index + 1}/{runs}")
        (folder / "out.pdf").unlink(missing_ok=True)
        run = run_measured(cmd, cwd=folder)
        require_success(run, "baseline", cmd)
        results.append(run)
    with pikepdf.open(folder / "out.pdf") as pdf:
        pages = len(pdf.pages)
    return results, pages, (folder / "out.pdf").stat().st_size / 1024


# -- reporting -----------------------------------------------------------------


@dataclass
class Report:
    rows: list = field(default_factory=list)  # (name, median, spread, ratio, note)
    targets: list = field(default_factory=list)  # (text, value, met)
    notes: list = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def row(self, name, stats, fmt, ratio_to=None, note=""):
        spread = f"{fmt(stats['min'])}-{fmt(stats['max'])}"
        ratio = f"{stats['median'] / ratio_to:.2f}x" if ratio_to else ""
        self.rows.append((name, fmt(stats["median"]), spread, ratio, note))

    def target(self, text, value, met):
        self.targets.append((text, value, met))

    def print(self):
        print(f"{'measurement':<44} {'median':>9} {'min-max':>17} {'vs base':>8}  note")
        print("-" * 96)
        for name, median, spread, ratio, note in self.rows:
            print(f"{name:<44} {median:>9} {spread:>17} {ratio:>8}  {note}".rstrip())
        print("\ntargets (reported, not enforced)")
        for text, value, met in self.targets:
            print(f"  [{'met' if met else 'NOT met':>7}] {text}: {value}")
        if self.notes:
            print("\nnotes")
            for note in self.notes:
                print("  - " + note.replace("\n", "\n      "))


def secs(value):
    return f"{value:.2f}s"


def msecs(value):
    return f"{value:.0f}ms"


def mbytes(value):
    return f"{value:.0f}MB"


def header(args):
    import weasyprint

    lines = [
        f"nkhandout benchmark: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, WeasyPrint {weasyprint.__version__}",
        f"runs: {args.runs}{' (quick)' if args.quick else ''}; times are wall clock",
        f"memory: {RSS_METHOD}",
    ]
    return lines


def measure(args, work, report):
    data = report.data
    jobs = supports_jobs()
    data["jobs_option"] = jobs

    base_runs, base_pages, base_kb = baseline_runs(write_baseline_input(work), args.runs)
    base = summary([r.wall for r in base_runs], "s")
    data["baseline"] = {"wall": base, "pages": base_pages, "pdf_kb": base_kb,
                        "command": "weasyprint page.html out.pdf -s style.css"}

    clean_runs, first_out = clean_builds(work, args.runs)
    clean = summary([r.wall for r in clean_runs], "s")
    clean_rss, clean_tree = memory(clean_runs)
    sizes = {p.name.split(".")[-2]: p.stat().st_size / 1024 for p in pdfs_in(first_out)}
    data["clean_build"] = {"wall": clean, "peak_rss": clean_rss,
                           "peak_tree_pss": clean_tree, "locales": sorted(sizes)}
    if jobs:
        serial_runs, _ = clean_builds(work, args.runs, extra=("--jobs", "1"))
        data["clean_build_jobs_1"] = {"wall": summary([r.wall for r in serial_runs], "s")}

    noop = summary([r.wall for r in noop_rebuilds(first_out, args.runs)], "s")
    data["noop_rebuild"] = {"wall": noop}

    clinics = QUICK_CLINICS if args.quick else BATCH_CLINICS
    batch_runs, written = batch_builds(work, clinics, args.runs)
    batch = summary([r.wall for r in batch_runs], "s")
    batch_rss, batch_tree = memory(batch_runs)
    expected = clinics * len(sizes)
    data["batch"] = {"clinics": clinics, "wall": batch, "peak_rss": batch_rss,
                     "peak_tree_pss": batch_tree,
                     "exit_codes": [r.code for r in batch_runs], "pdfs_written": written,
                     "pdfs_expected": expected}

    from nkhandout import build
    from nkhandout.project import Project

    shipped = build.available(Project.at())
    codes = [c for c in QUICK_LOCALES if c in shipped] if args.quick else shipped
    warm = warm_per_handout(codes, args.runs)
    data["warm_per_handout_ms"] = {c: summary(v, "ms") if isinstance(v, list) else {"error": v}
                                   for c, v in warm.items()}

    # -- table
    n = len(sizes)
    report.row(f"baseline: weasyprint CLI, {BASELINE_LOCALE} ({base_pages} page)", base, secs)
    report.row(f"clean build --all ({n} locales)", clean, secs, base["median"],
               "default jobs" if jobs else "")
    if jobs:
        report.row("clean build --all --jobs 1", data["clean_build_jobs_1"]["wall"], secs,
                   base["median"])
    report.row("no-op rebuild --all (same folder)", noop, secs, base["median"])
    report.row(f"batch {clinics} clinics x all locales", batch, secs, None,
               f"{min(written)}-{max(written)} of {expected} PDFs")
    for what, largest, tree in (("clean build", clean_rss, clean_tree), ("batch", batch_rss, batch_tree)):
        report.row(f"peak RSS, {what} (largest process)", largest, mbytes)
        if tree:
            report.row(f"peak memory, {what} (tree PSS)", tree, mbytes)
    for code, values in warm.items():
        if isinstance(values, str):
            report.rows.append((f"warm per-handout {code}", "-", "-", "", values[:60]))
        else:
            report.row(f"warm per-handout {code} [{script_of(code)}]", summary(values, "ms"), msecs)
    data["pdf_sizes_kb"] = {}
    for code, kb in sizes.items():
        limit, assumed = size_target_kb(code)
        data["pdf_sizes_kb"][code] = {"kb": kb, "target_kb": limit, "target_assumed": assumed,
                                      "met": kb <= limit}
        report.rows.append((f"PDF size {code} [{script_of(code)}]", f"{kb:.0f}KB", "-", "",
                            f"target {limit}KB{'*' if assumed else ''}: {'ok' if kb <= limit else 'OVER'}"))

    # -- targets
    ratio = clean["median"] / base["median"]
    report.target(f"clean build of all locales <= {CLEAN_VS_BASELINE}x baseline",
                  f"{ratio:.2f}x", ratio <= CLEAN_VS_BASELINE)
    ratio = noop["median"] / base["median"]
    report.target(f"no-op rebuild <= {NOOP_VS_BASELINE}x baseline", f"{ratio:.2f}x",
                  ratio <= NOOP_VS_BASELINE)
    latin = {c: statistics.median(v) for c, v in warm.items()
             if isinstance(v, list) and script_of(c) == "Latn"}
    if latin:
        worst = max(latin, key=latin.get)
        report.target(f"warm per-handout median <= {WARM_LATIN_MS} ms, Latin-script locales",
                      f"worst {worst} {latin[worst]:.0f} ms", latin[worst] <= WARM_LATIN_MS)
    report.target(f"batch {clinics} clinics x all locales < {BATCH_WALL_S} s wall",
                  secs(batch["median"]), batch["median"] < BATCH_WALL_S)
    peak = (batch_tree or batch_rss)["max"]
    shown = f"largest process {mbytes(batch_rss['max'])}"
    if batch_tree:
        shown = f"whole tree {mbytes(batch_tree['max'])} ({shown})"
    report.target(f"batch peak memory < {BATCH_RSS_MB} MB", shown, peak < BATCH_RSS_MB)
    over = [f"{c} {s['kb']:.0f}KB" for c, s in data["pdf_sizes_kb"].items() if not s["met"]]
    report.target(f"PDF size <= {SIZE_LATIN_KB} KB Latin / {SIZE_CJK_KB} KB CJK",
                  "over: " + ", ".join(over) if over else "all within", not over)
    report.data["targets"] = [{"target": t, "value": v, "met": m} for t, v, m in report.targets]

    # -- anything odd
    if any(s["target_assumed"] for s in data["pdf_sizes_kb"].values()):
        report.notes.append("* no size target for this script; the Latin one (60 KB) is applied")
    if args.quick:
        report.notes.append(f"--quick: the batch has {clinics} clinics, so its targets "
                            f"(set for {BATCH_CLINICS}) are only indicative")
    if n < len(shipped):
        report.notes.append(f"--all built {n} of {len(shipped)} shipped locales "
                            f"(missing: {', '.join(sorted(set(shipped) - set(sizes)))})")
    if noop["median"] > 0.5 * clean["median"]:
        report.notes.append(f"no-op rebuild takes {noop['median'] / clean['median']:.0%} of a clean "
                            "build: nothing is skipped when the output is up to date")
    elif noop["max"] > 0.5 * clean["median"]:
        report.notes.append(f"a no-op rebuild took {secs(noop['max'])}, as long as a build: did the "
                            "inputs (or the package) change during the benchmark?")
    if not jobs:
        report.notes.append("`nkhandout build` has no --jobs option: the build is serial")
    if base_pages != 1:
        report.notes.append(f"baseline PDF has {base_pages} pages, not 1: the comparison is rough")
    failed = next((r for r in batch_runs if r.code != 0), None)
    if failed:
        report.notes.append(f"batch exited {failed.code} in {sum(r.code != 0 for r in batch_runs)} "
                            f"of {len(batch_runs)} runs; stderr tail:\n{tail(failed.stderr)}")
    if base_runs[-1].stderr.strip():
        report.notes.append(f"weasyprint CLI said:\n{tail(base_runs[-1].stderr, 4)}")
    report.notes.append(f"the baseline is the plain CLI (untagged PDF, {base_kb:.0f} KB); "
                        "nkhandout writes tagged PDF/UA-1")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 3 locales in step 3, 3 clinics in step 4")
    parser.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for tool in (NKHANDOUT, WEASYPRINT):
        if not tool.exists():
            print(f"bench: {tool} not found; run `make setup` first", file=sys.stderr)
            return 1

    started = time.perf_counter()
    report = Report()
    report.data.update(machine={"platform": platform.platform(), "cpu_count": os.cpu_count(),
                                "python": platform.python_version()},
                       runs=args.runs, quick=args.quick, rss_method=RSS_METHOD)
    with tempfile.TemporaryDirectory(prefix="nkbench-") as work:
        try:
            measure(args, Path(work), report)
        except Broken as error:
            print(f"bench: measurement impossible: {error}", file=sys.stderr)
            return 1
    total = time.perf_counter() - started
    report.data["total_seconds"] = total

    print("\n".join(header(args)))
    print()
    report.print()
    print(f"\nwhole benchmark: {total:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report.data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
