"""Rewrite the Sphinx cross-reference roles in ``src/`` as mkdocstrings/autorefs links, so the API pages link them.

::

    python tools/sphinx_roles_to_autorefs.py            # rewrite src/lifting_dfer/**/*.py in place
    python tools/sphinx_roles_to_autorefs.py --check    # only list the roles; exit status 1 if there are any

mkdocstrings renders docstrings as Markdown, where ``:class:`~lifting_dfer.IFDD``` shows up as the raw text
":class: IFDD". Each role becomes ``[`IFDD`][lifting_dfer.IFDD]`` (``~`` keeps only the last name, as in
Sphinx). The target is resolved the way a reader of the source would: by importing the module that holds the
role and looking the name up in the enclosing class, then in the module, then in the ``lifting_dfer`` package.
An object that the docs site does not document (a private helper,
another library's class) becomes plain code instead of a broken link. What the site documents is read from the
``objects.inv`` of a fresh ``mkdocs build`` (or ``--inventory FILE``); among the names the site documents an
object under, the shortest is used (``lifting_dfer.ISSM``). Lines that grow past 120 characters are rewrapped
(``reflow``). Rerun it after merging branches that add roles: it changes nothing where there are none.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import inspect
import os
import re
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "lifting_dfer"
ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):`(~?)\.?([^`<>]+)`")
MAX_LINE = 120


def read_inventory(path: Path) -> set[str]:
    """Object names of a Sphinx ``objects.inv`` (version 2: four header lines, then zlib-compressed entries)."""
    data = path.read_bytes()
    body = data.split(b"\n", 4)[4]
    return {line.split(" ", 1)[0] for line in zlib.decompress(body).decode().splitlines() if line.strip()}


def build_inventory() -> set[str]:
    with tempfile.TemporaryDirectory() as site:
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", site], cwd=ROOT, env=env, check=True
        )
        return read_inventory(Path(site) / "objects.inv")


def enclosing_classes(tree: ast.Module) -> list[tuple[int, int, str]]:
    """``(first line, last line, qualified name)`` of every class, outer classes first."""
    spans = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = f"{prefix}{child.name}"
                spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, prefix)

    visit(tree, "")
    return spans


def canonical(container: object, name: str, value: object) -> str:
    """Where ``container.name`` (= ``value``) is defined: ``module.qualname`` for classes and functions."""
    if inspect.ismodule(value):
        return value.__name__
    if (inspect.isclass(value) or inspect.isroutine(value)) and hasattr(value, "__qualname__"):
        module = getattr(value, "__module__", None)
        if module and "<" not in value.__qualname__:
            return f"{module}.{value.__qualname__}"
    if inspect.ismodule(container):
        return f"{container.__name__}.{name}"
    if inspect.isclass(container):
        return f"{container.__module__}.{container.__qualname__}.{name}"
    return name


def lookup(start: object, dotted: str) -> str | None:
    """Follow ``dotted`` from ``start`` by attribute access; the canonical name of what it reaches."""
    obj, parent, name = start, None, ""
    for part in dotted.split("."):
        if not hasattr(obj, part):
            try:  # a submodule that is not imported as an attribute
                obj, parent, name = importlib.import_module(f"{obj.__name__}.{part}"), obj, part
                continue
            except (AttributeError, ImportError):
                return None
        obj, parent, name = getattr(obj, part), obj, part
    return canonical(parent, name, obj)


def resolve(target: str, module: object, scope: str | None, inventory: set[str]) -> str | None:
    """The documented identifier ``target`` refers to, seen from ``scope`` (a class qualname) in ``module``."""
    starts: list[object] = []
    if scope:
        cls = module
        for part in scope.split("."):
            cls = getattr(cls, part, None)
        if cls is not None:
            starts.append(cls)
    starts.append(module)
    candidates = [lookup(start, target) for start in starts]
    top = target.split(".")[0]
    if top in sys.modules or top == PACKAGE:
        with contextlib.suppress(ImportError):
            candidates.append(
                lookup(importlib.import_module(top), target.partition(".")[2])
                if "." in target
                else importlib.import_module(top).__name__
            )
    candidates.append(lookup(importlib.import_module(PACKAGE), target))
    for found in candidates:
        if found and found in inventory:
            return shortest_alias(found, inventory)
    return None


def documented_object(name: str) -> object:
    """The Python object behind an inventory name (``None`` if it cannot be imported)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part, None)
        return obj
    return None


def shortest_alias(name: str, inventory: set[str]) -> str:
    """The shortest documented name of the same object (``lifting_dfer.ISSM`` rather than ``lifting_dfer.issm.ISSM``)."""
    target, parent = documented_object(name), documented_object(name.rpartition(".")[0])
    last = name.rsplit(".", 1)[-1]
    same = [
        other
        for other in inventory
        if other.rsplit(".", 1)[-1] == last
        and documented_object(other) is target
        # a method is documented under its own class only (subclasses share the function object)
        and (inspect.ismodule(parent) or documented_object(other.rpartition(".")[0]) is parent)
    ]
    return min(same or [name], key=lambda other: (other.count("."), len(other), other))


def convert_file(path: Path, inventory: set[str]) -> tuple[str, list[str]]:
    """The file's new text and one note per role (``file:line: old -> new``)."""
    text = path.read_text(encoding="utf-8")
    if not ROLE.search(text):
        return text, []
    module_name = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts).removesuffix(".__init__")
    module = importlib.import_module(module_name)
    spans = enclosing_classes(ast.parse(text))
    notes, lines, changed = [], text.splitlines(keepends=True), set()
    for number, line in enumerate(lines, start=1):
        scope = next((name for first, last, name in reversed(spans) if first <= number <= last), None)

        def replace(match: re.Match, number: int = number, scope: str | None = scope) -> str:
            short, target = match.group(1), match.group(2).strip()
            shown = target.rsplit(".", 1)[-1] if short else target
            identifier = resolve(target, module, scope, inventory)
            new = f"[`{shown}`][{identifier}]" if identifier else f"`{shown}`"
            notes.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)} -> {new}")
            return new

        lines[number - 1] = ROLE.sub(replace, line)
        if lines[number - 1] != line:
            changed.add(number - 1)
    return "".join(reflow(lines, docstring_lines(ast.parse(text)), changed)), notes


def docstring_lines(tree: ast.Module) -> dict[int, int]:
    """0-based line -> 0-based last line of the docstring it belongs to."""
    spans = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                for line in range(first.lineno - 1, first.end_lineno):
                    spans[line] = first.end_lineno - 1
    return spans


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


SECTIONS = re.compile(
    r"\s*(Args|Arguments|Parameters|Params|Other Parameters|Keyword Args|Raises|Exceptions|Warns|"
    r"Returns|Yields|Receives|Attributes):\s*$"
)


def is_item(lines: list[str], number: int) -> bool:
    """Whether line ``number`` starts an entry of a Google-style section (``name: description`` under ``Args:``)."""
    indent = indent_of(lines[number])
    if not re.match(r"\s*[\w*]+(, [\w*]+)*( \([^)]*\))?: \S", lines[number]):
        return False
    for previous in reversed(lines[:number]):
        if previous.strip() and indent_of(previous) < indent:
            return bool(SECTIONS.match(previous))
    return False


def continuation_prefix(line: str, following: str, item: bool) -> str:
    """How the text of ``line`` goes on on the next line: behind ``# `` in a comment, with the next line's
    indentation when that line continues it, under a list item's text, four columns deeper in an entry of a
    Google-style section (``item``), else at the same indentation."""
    indent = indent_of(line)
    text = line[indent:]
    if text.startswith("# "):
        return " " * indent + "# "
    if following.strip() and indent_of(following) > indent and not following.lstrip().startswith(("- ", "* ")):
        return " " * indent_of(following)
    if marker := re.match(r"(- |\* |\d+\. )", text):
        return " " * (indent + len(marker.group(1)))
    if item:
        return " " * (indent + 4)
    return " " * indent


def continues(line: str, prefix: str) -> bool:
    """Whether ``line`` is more text of the paragraph whose lines start with ``prefix``."""
    if not line.strip() or not line.startswith(prefix) or indent_of(line) != indent_of(prefix):
        return False
    return not re.match(r"(- |\* |\d+\. |>>>|\.\.\.|```|\"\"\"|''')", line[len(prefix) :])


def reflow(lines: list[str], docstrings: dict[int, int], changed: set[int]) -> list[str]:
    """Lines of ``changed`` (and those they pass words to) longer than ``MAX_LINE`` pass their last words on to the
    next line of the same paragraph (or to a new line when the paragraph ends there), breaking only at spaces
    outside code and links. Words move on only within one docstring (``docstrings``: line -> the docstring's last
    line) or from comment to comment."""
    out: list[str] = []
    carry, prefix = "", ""
    for number, line in enumerate(lines):
        carried = False
        if carry:
            if continues(line, prefix):
                line, carried = prefix + carry + " " + line[len(prefix) :], True
            else:
                out.append(prefix + carry + "\n")
            carry = ""
        body, end = line.rstrip("\n"), line[len(line.rstrip("\n")) :]
        following = lines[number + 1] if number + 1 < len(lines) else ""
        same_text = (docstrings.get(number, -1) > number) or (
            line.lstrip().startswith("#") and following.lstrip().startswith("#")
        )
        if not same_text:
            following = ""
        if number not in changed and not carried:
            out.append(line)
            continue
        while len(body) > MAX_LINE:
            prefix = continuation_prefix(body, following, is_item(lines, number))
            breaks = [i for i in breakable(body) if len(prefix) < i <= MAX_LINE]
            if not breaks:
                break
            out.append(body[: breaks[-1]] + "\n")
            rest = body[breaks[-1] + 1 :]
            if continues(following, prefix):
                carry, body = rest, None
                break
            body = prefix + rest
        if body is not None:
            out.append(body + end)
    if carry:
        out.append(prefix + carry + "\n")
    return out


def breakable(text: str) -> list[int]:
    """Positions of spaces outside code spans (any run of backticks) and outside ``[...][...]`` links."""
    spaces, fence, brackets, i = [], 0, 0, 0
    while i < len(text):
        if text[i] == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            fence = 0 if fence == run else (fence or run)
            i += run
            continue
        if not fence and text[i] == "[":
            brackets += 1
        elif not fence and text[i] == "]":
            brackets = max(brackets - 1, 0)
        elif text[i] == " " and not fence and not brackets and i > 0 and text[i - 1] != " ":
            spaces.append(i)
        i += 1
    return spaces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="list the roles, change nothing")
    parser.add_argument("--inventory", type=Path, help="objects.inv of a built site (default: build one now)")
    args = parser.parse_args(argv)
    files = sorted((ROOT / "src" / PACKAGE).rglob("*.py"))
    if args.check:
        found = [
            f"{path.relative_to(ROOT)}:{n}: {m.group(0)}"
            for path in files
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            for m in ROLE.finditer(line)
        ]
        print("\n".join(found) or "no Sphinx roles")
        return 1 if found else 0
    sys.path.insert(0, str(ROOT / "src"))
    inventory = read_inventory(args.inventory) if args.inventory else build_inventory()
    changed = 0
    for path in files:
        new, notes = convert_file(path, inventory)
        if notes:
            print("\n".join(notes))
        if new != path.read_text(encoding="utf-8"):
            path.write_text(new, encoding="utf-8")
            changed += 1
    print(f"rewrote {changed} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
