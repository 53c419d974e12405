"""The package's version, in a module of its own so that the code that records it imports nothing above.

One source: ``version`` in ``pyproject.toml``, read here from the installed package's metadata (what
``pip install`` / ``pip install -e .`` wrote), so that ``lifting_dfer.__version__`` and ``lifting-dfer --version``
always match what pip reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lifting_dfer")
except PackageNotFoundError:  # the source tree on sys.path without an install (a torch.hub clone, say)
    __version__ = "0+unknown"
