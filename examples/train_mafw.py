"""Train IFDD on MAFW (11 classes, 32 frames per clip) with the paper's protocol.

::

    python examples/train_mafw.py --data-root /data/MAFW --fold 1
    torchrun --nproc-per-node 8 examples/train_mafw.py --data-root /data/MAFW --fold all

All options: ``python examples/train_mafw.py --help``; details in docs/training.md.
"""

import sys

from lifting_dfer.training import main

if __name__ == "__main__":
    sys.exit(main(dataset="mafw"))
