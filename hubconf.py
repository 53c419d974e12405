"""torch.hub entry points: ``torch.hub.load(repo, "ifdd_2dcnn", num_classes=7, num_frames=8)``.

``repo`` is a clone (``source="local"``) or ``owner/name[:ref]`` of this repository on GitHub. The builders take the
arguments of [`create_model`][lifting_dfer.create_model]'s models and touch the network only when pretrained backbone
weights are asked for (``pretrained=True``, downloaded into the timm / torchvision caches).
``from_pretrained`` loads a trained model saved with ``lifting_dfer.save_pretrained`` from a folder or a Hugging Face
Hub repository: ``torch.hub.load(repo, "from_pretrained", "owner/ifdd_2dcnn-dfew")``.

The clone's ``src/`` is used when ``lifting_dfer`` is not imported yet, so that the entry points run the code of the
revision torch.hub checked out.
"""

import sys
from pathlib import Path

dependencies = ["torch", "torchvision", "timm", "einops", "huggingface_hub", "safetensors"]

_SRC = str(Path(__file__).resolve().parent / "src")
if "lifting_dfer" not in sys.modules and Path(_SRC).is_dir():
    sys.path.insert(0, _SRC)  # only while importing: the package's own path serves its later (lazy) imports
    try:
        import lifting_dfer  # noqa: F401
    finally:
        sys.path.remove(_SRC)

from lifting_dfer.models import baseline_2dcnn, baseline_3dvit, ifdd_2dcnn, ifdd_3dvit  # noqa: E402
from lifting_dfer.pretrained import from_pretrained  # noqa: E402

__all__ = ["baseline_2dcnn", "baseline_3dvit", "from_pretrained", "ifdd_2dcnn", "ifdd_3dvit"]
