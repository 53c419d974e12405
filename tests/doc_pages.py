"""The Python blocks of the docs as a reader pastes them: parsed with Sybil, run page by page.

A page is read as mkdocs renders it: every ``--8<--`` line is expanded by pymdownx.snippets with the settings of
mkdocs.yml, so the code a reader copies is the code that runs. Sybil then finds the fenced blocks and its skip
comments, and runs the blocks in order in one namespace (``__name__ == "__main__"``, as in a fresh interpreter).

A block is not run when it is marked on the page:

- a class ``notest`` in its fence, with a title the page shows above the block, which says why:
  ````python {.notest title="Needs a DFEW copy: not run by the docs tests"}````;
- or a Sybil skip comment right before it, with the reason: ``<!-- skip: next "needs a DFEW copy" -->``.

``python tests/doc_pages.py PAGE REPORT`` runs one page in the current folder and writes what happened to each
block as JSON to ``REPORT``; tests/test_docs_blocks.py runs it in a fresh interpreter in an empty folder per page.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from unittest import SkipTest

import markdown
from sybil import Document, Region
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.example import NotEvaluated, SybilFailure
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.markdown import SkipParser
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

SNIPPET = re.compile(r"^\s*-{1,}8<-{1,}\s")
NOTEST = re.compile(r"(?:^|[\s{])\.?notest\b")
TITLE = re.compile(r'title="([^"]*)"')
PYTHON = re.compile(r"^\{?\.?(python|py)\b")


def expand_snippets(path: Path) -> tuple[str, list[int]]:
    """The page's text with its ``--8<--`` lines expanded as mkdocs does, and each line's line on the page."""
    md = markdown.Markdown(
        extensions=["pymdownx.snippets"],
        extension_configs={
            "pymdownx.snippets": {"base_path": [str(ROOT)], "check_paths": True, "dedent_subsections": True}
        },
    )
    snippets = md.preprocessors["snippet"]
    lines, origin = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        expanded = snippets.run([line]) if SNIPPET.match(line) else [line]
        lines += expanded
        origin += [number] * len(expanded)
    return "\n".join(lines) + "\n", origin


class PageDocument(Document):
    """A Markdown page with its snippets expanded; ``page_line`` maps a line back to the page."""

    origin: list[int]
    printed: str = ""

    @classmethod
    def parse(cls, path: str, *parsers, encoding: str = "utf-8") -> PageDocument:
        text, origin = expand_snippets(Path(path))
        document = cls(text, path)
        document.origin = origin
        document.namespace["__name__"] = "__main__"
        for parser in parsers:
            for region in parser(document):
                document.add(region)
        return document

    def page_line(self, position: int) -> int:
        return self.origin[self.text.count("\n", 0, position)]


class _Tee(io.StringIO):
    def __init__(self, stream) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        return super().write(text)


class BlockEvaluator:
    """Runs a block in the page's namespace; a traceback names the page, the block's line and the line in it.

    What the block prints is kept (``document.printed``) for the next ``<!-- output -->`` block to compare.
    """

    def __call__(self, example) -> None:
        where = f"{example.path} (block at line {example.document.page_line(example.start)})"
        tee = _Tee(sys.stdout)
        try:
            with contextlib.redirect_stdout(tee):
                exec(compile(example.parsed, where, "exec", dont_inherit=True), example.namespace)
        finally:
            example.document.printed += tee.getvalue()
            example.namespace.pop("__builtins__", None)


NUMBER = re.compile(r"-?\d+(?:\.(\d+))?(?:e[-+]?\d+)?")


def same_output(printed: str, shown: str) -> bool:
    """Equal text, numbers equal to the last digit shown (within one unit of it, or 0.1 % of the value)."""
    printed_lines, shown_lines = printed.strip().splitlines(), shown.strip().splitlines()
    if len(printed_lines) != len(shown_lines):
        return False
    for got, want in zip(printed_lines, shown_lines):
        if NUMBER.sub("#", got).rstrip() != NUMBER.sub("#", want).rstrip():
            return False
        for a, b in zip(NUMBER.finditer(got), NUMBER.finditer(want)):
            unit = 10.0 ** -len(b.group(1) or "") if "e" not in b.group(0) else 0.0
            if abs(float(a.group(0)) - float(b.group(0))) > max(unit, 1e-3 * abs(float(b.group(0)))):
                return False
    return True


class OutputParser:
    """A ``text`` block right after ``<!-- output -->``: what the blocks since the last one printed, shown."""

    PATTERN = re.compile(
        r"^(?P<prefix>[ \t]*)<!-- output -->\n(?P=prefix)```text\n(?P<body>.*?)^(?P=prefix)```[ \t]*$",
        re.MULTILINE | re.DOTALL,
    )

    def __call__(self, document: Document) -> Iterable[Region]:
        for match in self.PATTERN.finditer(document.text):
            prefix = match.group("prefix")
            body = "".join(line.removeprefix(prefix) for line in match.group("body").splitlines(keepends=True))
            yield Region(match.start(), match.end(), body, self.evaluate)

    @staticmethod
    def evaluate(example) -> str | None:
        printed, example.document.printed = example.document.printed, ""
        if not same_output(printed, example.parsed):
            return f"the page shows:\n{example.parsed}\nthe blocks above printed:\n{printed}"
        return None


def _traceback(error: BaseException) -> str:
    """The error's traceback without the frames of Sybil and of this runner."""
    here = Path(__file__).name
    trace = traceback.TracebackException.from_exception(error)
    trace.stack = traceback.StackSummary.from_list(
        [f for f in trace.stack if "sybil" not in Path(f.filename).parts and Path(f.filename).name != here]
    )
    return "".join(trace.format())


def _not_run(reason: str):
    def evaluate(example) -> None:
        raise SkipTest(reason)

    return evaluate


class PythonBlockParser:
    """Fenced blocks whose language is ``python``: run, run as doctests (``>>>``), or skipped when ``notest``."""

    def __init__(self) -> None:
        self.lexer = RawFencedCodeBlockLexer(info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE))
        self.evaluator = BlockEvaluator()
        self.doctests = DocTestStringParser(DocTestEvaluator())

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.lexer(document):
            info = region.lexemes["info"].strip()
            if not PYTHON.match(info):
                continue
            source = region.lexemes["source"]
            if NOTEST.search(info):
                title = TITLE.search(info)
                region.parsed = source
                region.evaluator = _not_run(title.group(1) if title else "")
                yield region
            elif source.lstrip().startswith(">>>"):
                for doctest_region in self.doctests(source, document.path):
                    doctest_region.adjust(region, source)
                    yield doctest_region
            else:
                region.parsed = source
                region.evaluator = self.evaluator
                yield region


def parse(path: Path) -> PageDocument:
    return PageDocument.parse(str(path), SkipParser(), PythonBlockParser(), OutputParser())


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(page line, fence info) of every fenced Python block of the page, snippets expanded."""
    document = PageDocument.parse(str(path))
    lexer = RawFencedCodeBlockLexer(info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE))
    return [
        (document.page_line(r.start), r.lexemes["info"].strip())
        for r in lexer(document)
        if PYTHON.match(r.lexemes["info"].strip())
    ]


def run(path: Path) -> Iterator[dict[str, object]]:
    """Run the page's blocks in order; yield ``{"line", "status", "detail"}`` per block, stop at the first error."""
    document = parse(path)
    for example in document.examples():
        is_skip_comment = isinstance(example.parsed, tuple)  # the skip directive itself
        is_output = example.region.evaluator == OutputParser.evaluate
        line = document.page_line(example.start)
        try:
            example.evaluate()
        except SkipTest as reason:
            yield {"line": line, "status": "marked", "detail": str(reason)}
            continue
        except NotEvaluated:
            yield {"line": line, "status": "marked", "detail": ""}
            continue
        except SybilFailure as failure:  # an output block that differs from what was printed
            yield {"line": line, "status": "failed", "detail": failure.result}
            return
        except BaseException as error:
            yield {"line": line, "status": "failed", "detail": _traceback(error)}
            return
        if is_output:
            yield {"line": line, "status": "output", "detail": ""}
        elif not is_skip_comment:
            yield {"line": line, "status": "ran", "detail": ""}


if __name__ == "__main__":
    page, report = Path(sys.argv[1]), Path(sys.argv[2])
    results = []
    try:
        for result in run(page):
            results.append(result)
            report.write_text(json.dumps(results, indent=1))
    finally:
        report.write_text(json.dumps(results, indent=1))
    sys.exit(1 if any(r["status"] == "failed" for r in results) else 0)
