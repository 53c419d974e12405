"""``python -m lifting_dfer ...`` is the ``lifting-dfer`` command (see [`lifting_dfer.cli`][lifting_dfer.cli])."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
