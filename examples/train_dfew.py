"""Train IFDD on DFEW with the paper's protocol; without arguments, a short CPU demo on a synthetic DFEW.

::

    python examples/train_dfew.py                                      # demo: synthetic data, ~2 min on a CPU
    python examples/train_dfew.py --data-root /data/DFEW --fold 1      # paper protocol, fold 1
    python examples/train_dfew.py --data-root /data/DFEW --fold all    # 5-fold runner + summary table
    torchrun --nproc-per-node 8 examples/train_dfew.py --data-root /data/DFEW --fold all
    python examples/train_dfew.py --resume runs/dfew-ifdd_2dcnn-20250101-120000   # continue a killed run

All options: ``python examples/train_dfew.py --help``; details in docs/training.md.
"""

import sys

from lifting_dfer.training import main

if __name__ == "__main__":
    sys.exit(main(dataset="dfew"))
