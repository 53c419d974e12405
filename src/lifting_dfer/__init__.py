"""lifting_dfer: IFDD's learnable lifting scheme for dynamic facial expression recognition (AAAI 2025).

Layers (drop into any video model): [`interpolate_frames`][lifting_dfer.interpolate_frames],
[`ISSM`][lifting_dfer.ISSM], [`LADM`][lifting_dfer.LADM], [`PyramidAggregation`][lifting_dfer.PyramidAggregation],
[`LiftLoss`][lifting_dfer.LiftLoss]. Full models: [`IFDD`][lifting_dfer.IFDD], [`ifdd_2dcnn`][lifting_dfer.ifdd_2dcnn],
[`ifdd_3dvit`][lifting_dfer.ifdd_3dvit] and the baselines; the authors' released form
[`ifdd_3dvit_authors`][lifting_dfer.ifdd_3dvit_authors] and [`load_authors_checkpoint`][lifting_dfer.load_authors_checkpoint]
for their checkpoints ([`lifting_dfer.authors`][lifting_dfer.authors]). Trained models:
[`save_pretrained`][lifting_dfer.save_pretrained], [`from_pretrained`][lifting_dfer.from_pretrained],
[`push_to_hub`][lifting_dfer.push_to_hub]. Datasets and metrics live in [`lifting_dfer.data`][lifting_dfer.data] and
[`lifting_dfer.metrics`][lifting_dfer.metrics].

Importing the package and using the layers loads neither timm nor torchvision; the backbones import them when a model
is built.
"""

from ._version import __version__ as __version__
from .authors import ifdd_3dvit_authors, load_authors_checkpoint
from .baseline import MLPBaseline
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .heads import AttentionPool, ConcatMLPHead
from .ifdd import IFDD, IFDDOutput
from .interpolation import interpolate_frames
from .issm import ISSM, LazyISSM
from .ladm import LADM, LiftingAttention
from .loss import LiftLoss
from .models import baseline_2dcnn, baseline_3dvit, create_model, ifdd_2dcnn, ifdd_3dvit, list_models
from .pretrained import from_pretrained, push_to_hub, save_pretrained
from .pyramid import PyramidAggregation

__all__ = [
    "IFDD",
    "ISSM",
    "LADM",
    "AttentionPool",
    "ConcatMLPHead",
    "IFDDOutput",
    "LazyISSM",
    "LiftLoss",
    "LiftingAttention",
    "MLPBaseline",
    "PyramidAggregation",
    "baseline_2dcnn",
    "baseline_3dvit",
    "create_model",
    "from_pretrained",
    "ifdd_2dcnn",
    "ifdd_3dvit",
    "ifdd_3dvit_authors",
    "interpolate_frames",
    "list_models",
    "load_authors_checkpoint",
    "load_checkpoint",
    "model_from_checkpoint",
    "push_to_hub",
    "save_checkpoint",
    "save_pretrained",
]
