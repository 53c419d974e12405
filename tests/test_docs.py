"""The docs: code they include (examples/quickstart*.py and what the page says they print), snippet markers."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_model_prints_shapes_of_the_documented_pipeline(capsys):
    load_example("quickstart_model").main(["--frames", "4", "--size", "64"])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "['baseline_2dcnn', 'baseline_3dvit', 'ifdd_2dcnn', 'ifdd_3dvit']",
        "logits (b, k): (2, 7)",
        # MobileNetV2 at stride 16 and temporal stride 2: t = T0 / 2 = 2, h = w = 64 / 16 = 4, c = 128
        "Y_S (b, c, z, h, w): (2, 128, 1, 4, 4) X (b, c, t, h, w): (2, 128, 2, 4, 4)",
        "ISSM positions i_s, i_d (b, z): (2, 1) (2, 1)",
    ]


def test_quickstart_prints_what_the_quickstart_page_shows(capsys):
    """The page quotes the script's whole output, ISSM positions included (docs/quickstart.md explains them)."""
    load_example("quickstart").main()
    printed = capsys.readouterr().out.strip().splitlines()
    page = (ROOT / "docs" / "quickstart.md").read_text()
    quoted = re.search(r"```text\n(backbone features:.*?)```", page, re.S).group(1).strip().splitlines()
    assert printed == quoted


def test_snippet_sections_named_in_the_docs_exist():
    """Every ``--8<-- "file:section"`` in docs/ names a file with matching start/end markers."""
    import re

    found = 0
    for page in (ROOT / "docs").rglob("*.md"):
        for path, section in re.findall(r'^\s*--8<-- "([^":]+)(?::([a-z][-_0-9a-z]*))?"', page.read_text(), re.M):
            text = (ROOT / path).read_text()
            found += 1
            if section:
                assert f"--8<-- [start:{section}]" in text, f"{page.name}: {path} has no section {section!r}"
                assert f"--8<-- [end:{section}]" in text, f"{page.name}: {path} has no end of {section!r}"
    assert found >= 8
