"""Evaluate a checkpoint on a dataset split: prints UAR/WAR, writes metrics.json and confusion.png.

::

    python examples/evaluate.py runs/demo-ifdd_2dcnn-<time>/fold1/best.pt             # the run's test split
    python examples/evaluate.py best.pt --dataset dfew --data-root /data/DFEW --fold 2 --output-dir eval/

All options: ``python examples/evaluate.py --help``; details in docs/training.md.
"""

import sys

from lifting_dfer.training import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
