"""The package's structure: imports run one way (no cycle; nothing imports the command line), functions stay short.

Read from the source with ``ast``, nothing is imported: every ``import`` counts, at the top of a module or inside a
function, and so does ``importlib.import_module("...")`` with a literal name.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_FUNCTION_LINES = 100


def module_name(path: Path, root: Path) -> str:
    """``root/a/b/c.py`` -> ``a.b.c``; ``root/a/b/__init__.py`` -> ``a.b``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path) -> set[str]:
    """Absolute names of what ``path`` imports: ``from .x import y`` gives ``pkg.x`` and ``pkg.x.y`` (``y`` may be a
    module), ``importlib.import_module("a.b")`` gives ``a.b``."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same tree it imports."""
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    return {name: (imported_modules(path, root) & set(paths)) - {name} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other in a loop (strongly connected components of two or more)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """``(file:line:name, lines)`` of each function or method (nested ones on their own) longer than ``limit``
    lines, decorators, signature, docstring and blank lines included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = node.end_lineno - first + 1
            if lines > limit:
                out.append((f"{path}:{node.lineno}:{node.name}", lines))
    return out


def write_package(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_nothing_below_the_command_line_imports_it():
    graph = import_graph(SRC)
    assert "lifting_dfer.cli" in graph and "lifting_dfer.cli" in graph["lifting_dfer.__main__"]
    importers = sorted(name for name, targets in graph.items() if "lifting_dfer.cli" in targets)
    assert importers == ["lifting_dfer.__main__"]


def test_the_package_imports_have_no_cycle():
    assert cycles(import_graph(SRC)) == []


def test_no_function_in_src_is_longer_than_100_lines():
    too_long = [row for path in sorted(SRC.rglob("*.py")) for row in long_functions(path)]
    assert too_long == []


def test_import_reader_sees_relative_lazy_and_importlib_imports_of_the_cli(tmp_path):
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/cli.py": "from .video import run\n",
            "pkg/__main__.py": "from .cli import main\n",
            "pkg/video/__init__.py": "from .run import run\n",
            "pkg/video/run.py": "def run():\n    from ..cli import load_model\n",
            "pkg/video/face.py": "from .. import cli\n",
            "pkg/export.py": "import importlib\n\ndef go():\n    return importlib.import_module('pkg.cli')\n",
            "pkg/plain.py": "import pkg.video.run\n",
        },
    )
    graph = import_graph(tmp_path)
    importers = sorted(name for name, targets in graph.items() if "pkg.cli" in targets)
    assert importers == ["pkg.__main__", "pkg.export", "pkg.video.face", "pkg.video.run"]
    assert graph["pkg.plain"] == {"pkg.video.run"}
    assert cycles(graph) == [["pkg.cli", "pkg.video", "pkg.video.run"]]


def test_cycle_finder_finds_each_loop_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"f", "a"}, "g": set()}
    assert cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_function_length_counts_decorators_signature_docstring_and_nested_functions(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(97))
    inner = "\n".join(f"        y{i} = {i}" for i in range(100))
    source = (
        f'@decorator\ndef at_limit():\n    """Doc."""\n{body}\n\n\n'  # 1 + 1 + 1 + 97 = 100 lines
        f'@decorator\ndef one_over():\n    """Doc."""\n{body}\n    return x0\n\n\n'  # 101 lines
        f"class Holder:\n    def method(self):\n{inner}\n"  # 101 lines, a method
    )
    path = tmp_path / "module.py"
    path.write_text(source)
    assert sorted((name.rsplit(":", 1)[-1], n) for name, n in long_functions(path)) == [
        ("method", 101),
        ("one_over", 101),
    ]
