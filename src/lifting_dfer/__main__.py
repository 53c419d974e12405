"""``python -m lifting_dfer ...`` is the ``lifting-dfer`` command (see :mod:`lifting_dfer.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
