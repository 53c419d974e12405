"""The docs: code they include (examples/quickstart.py and what the page says it prints), snippet markers, and
the built site (no raw Sphinx role, no image without alt text). Every Python block of the pages runs in
tests/test_docs_blocks.py."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_prints_what_the_quickstart_page_shows(capsys):
    """The page quotes the script's whole output, ISSM positions included (docs/quickstart.md explains them)."""
    load_example("quickstart").main()
    printed = capsys.readouterr().out.strip().splitlines()
    page = (ROOT / "docs" / "quickstart.md").read_text()
    quoted = re.search(r"```text\n(backbone features:.*?)```", page, re.S).group(1).strip().splitlines()
    assert printed == quoted


def test_snippet_sections_named_in_the_docs_exist():
    """Every ``--8<-- "file:section"`` in docs/ names a file with matching start/end markers."""
    found = 0
    for page in (ROOT / "docs").rglob("*.md"):
        for path, section in re.findall(r'^\s*--8<-- "([^":]+)(?::([a-z][-_0-9a-z]*))?"', page.read_text(), re.M):
            text = (ROOT / path).read_text()
            found += 1
            if section:
                assert f"--8<-- [start:{section}]" in text, f"{page.name}: {path} has no section {section!r}"
                assert f"--8<-- [end:{section}]" in text, f"{page.name}: {path} has no end of {section!r}"
    assert found >= 8


class _SiteText(HTMLParser):
    """Visible text outside code, and every ``<img>`` (its page, source and alt text) of one HTML page."""

    _SKIP = frozenset({"code", "pre", "script", "style", "kbd"})

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.text, self.images = 0, [], []

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.depth += 1
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self.depth = max(self.depth - 1, 0)

    def handle_data(self, data):
        if not self.depth:
            self.text.append(data)


RAW_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):")


@pytest.mark.slow
def test_built_site_shows_no_raw_sphinx_role_and_no_image_without_alt_text(tmp_path):
    """``mkdocs build --strict``, then every page: Sphinx roles render as raw text, images need alt text."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    env.pop("SITE_URL", None)
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 15
    roles, missing_alt = [], []
    for page in pages:
        parsed = _SiteText()
        parsed.feed(page.read_text(encoding="utf-8"))
        text = " ".join(" ".join(parsed.text).split())
        roles += [
            f"{page.relative_to(site)}: ...{text[max(m.start() - 30, 0) : m.end() + 40]}..."
            for m in RAW_ROLE.finditer(text)
        ]
        missing_alt += [
            f"{page.relative_to(site)}: {img.get('src')}" for img in parsed.images if not (img.get("alt") or "").strip()
        ]
    assert not roles, f"{len(roles)} raw Sphinx roles in the built site:\n" + "\n".join(roles[:20])
    assert not missing_alt, "images without alt text:\n" + "\n".join(missing_alt)


def test_numbers_quoted_in_the_pages_are_those_of_the_records():
    """Every ``<!-- figure: NAME -->`` stretch of the pages is what ``python -m benchmarks.make_docs`` writes from
    benchmarks/results/*.json (one source per number); so is the Performance page."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.figures import FIGURE, FIGURES, PAGES, fill, render_figures
    from benchmarks.make_docs import load_records, render

    figures = render_figures()
    used, stale = set(), []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        used |= {m["name"] for m in FIGURE.finditer(text)}
        if fill(text, figures) != text:
            stale.append(page.relative_to(ROOT).as_posix())
    assert not stale, f"figures differ from the records in {stale}: run python -m benchmarks.make_docs"
    assert used == set(FIGURES), f"figures no page quotes: {set(FIGURES) - used}"
    performance = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert performance == render(load_records(ROOT / "benchmarks" / "results"))


MACHINE_PATH = re.compile("(?<![\\w.~-])/(?:" + "|".join(["work", "root", "home", "tmp"]) + ")/")


def test_no_tracked_text_file_names_a_folder_of_the_machine_that_wrote_it():
    """Absolute paths under /work, /root, /home or /tmp, and stamps of a working tree that differed from its commit,
    say only where and how one machine held its files: records and pages keep repository-relative paths or file
    names."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    stamp = "uncommitted" + " changes"
    found = []
    for name in files:
        path = ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files (images)
        for number, line in enumerate(text.splitlines(), start=1):
            if MACHINE_PATH.search(line) or stamp in line:
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not found, "machine paths or stamps in tracked files:\n" + "\n".join(found[:30])
