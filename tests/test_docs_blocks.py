"""Every Python block of the docs (and of README.md) runs when pasted: one fresh interpreter per page, in an empty
folder, blocks in order, examples/ not on the path (tests/doc_pages.py runs them with Sybil). A block that needs a
dataset, a GPU or the network is marked on its page, with the reason shown there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from doc_pages import NOTEST, PAGES, ROOT, TITLE, python_blocks

PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page)]
RUNNER = ROOT / "tests" / "doc_pages.py"


def _name(page):
    return page.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_name)
def test_python_blocks_run_when_pasted_into_a_fresh_interpreter(page, tmp_path):
    folder, report = tmp_path / "empty", tmp_path / "report.json"
    folder.mkdir()
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    env.pop("PYTHONSTARTUP", None)
    code = (
        "import runpy, sys; sys.argv = ['doc_pages', sys.argv[1], sys.argv[2]]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    # -c: sys.path[0] is the (empty) current folder, as for a pasted session; the runner is given by path.
    code = code.replace("sys.argv[0]", repr(str(RUNNER)))
    proc = subprocess.run(
        [sys.executable, "-c", code, str(page), str(report)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    results = json.loads(report.read_text()) if report.exists() else []
    failed = [r for r in results if r["status"] == "failed"]
    where = _name(page)
    assert not failed, f"{where}, block at line {failed[0]['line']}:\n{failed[0]['detail']}"
    assert proc.returncode == 0, f"{where}: the runner failed\n{proc.stderr[-4000:]}"
    blocks = python_blocks(page)
    assert len(results) >= len(blocks), f"{where}: {len(blocks)} blocks, {len(results)} results"
    assert any(r["status"] == "ran" for r in results) or all(NOTEST.search(info) for _, info in blocks)


def test_marked_blocks_say_why_on_the_page():
    """``notest`` blocks carry a title (shown above the block); skip comments carry a reason string."""
    unexplained = []
    for page in PAGES:
        for line, info in python_blocks(page):
            if NOTEST.search(info) and not (TITLE.search(info) and TITLE.search(info).group(1).strip()):
                unexplained.append(f"{_name(page)}:{line}: {info}")
        for number, text in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            if re.match(r"\s*<!--+\s*skip:", text) and not re.search(r"skip:\s*\w+\s+[\"']\S", text):
                unexplained.append(f"{_name(page)}:{number}: {text.strip()}")
    assert not unexplained, "marked blocks without a reason:\n" + "\n".join(unexplained)


def test_runner_reports_a_failing_block_and_skips_a_marked_one(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = 2\n```\n\n"
        '```python {.notest title="Needs a GPU"}\nimport missing_module\n```\n\n'
        '<!-- skip: next "needs the network" -->\n```python\nraise SystemExit(3)\n```\n\n'
        "```python\nassert __name__ == '__main__'\ny = x + 1\n```\n\n"
        "```python\n>>> y * 2\n6\n\n```\n\n"
        "```text\nnot python\n```\n\n"
        "```python\n1 / 0\n```\n"
    )
    sys.path.insert(0, str(RUNNER.parent))
    import doc_pages

    results = list(doc_pages.run(page))
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "ran"),
        (5, "marked"),
        (10, "marked"),
        (14, "ran"),
        (20, "ran"),  # a doctest is reported at its ">>>" line
        (29, "failed"),
    ]
    assert results[1]["detail"] == "Needs a GPU" and results[2]["detail"] == "needs the network"
    assert "ZeroDivisionError" in results[-1]["detail"]
