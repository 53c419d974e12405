"""Train IFDD on FERV39k (its train/test split) with the paper's protocol.

::

    python examples/train_ferv39k.py --data-root /data/FERV39k
    torchrun --nproc-per-node 8 examples/train_ferv39k.py --data-root /data/FERV39k --model ifdd_3dvit

All options: ``python examples/train_ferv39k.py --help``; details in docs/training.md.
"""

import sys

from lifting_dfer.training import main

if __name__ == "__main__":
    sys.exit(main(dataset="ferv39k"))
