"""Data: DFEW, FERV39k and MAFW readers, a synthetic DFEW, temporal sampling, clip transforms, resampling.

Every dataset yields ``(clip, label)`` with ``clip: (3, T0, size, size)`` float32 ImageNet-normalised and exposes
``class_names``, ``labels`` and ``samples`` (frame folders). See docs/datasets.md for the layouts.
"""

from ._io import AnnotationRow
from .clips import ClipDataset, check_num_classes
from .dfew import DFEW, DFEW_CLASSES, read_dfew_split
from .ferv39k import FERV39K_CLASSES, FERV39k, read_ferv39k_split
from .frames import FRAME_EXTENSIONS, CorruptFrameError, list_frames, natural_key, read_clip, read_frame
from .mafw import MAFW, MAFW_CLASSES, read_mafw_split
from .sampler import balanced_sampler, class_balanced_weights, class_counts
from .sampling import uniform_indices
from .splits import stratified_split, train_val_split
from .synthetic import SYNTHETIC_DYNAMICS, make_synthetic_dfew, synthetic_clip
from .transforms import IMAGENET_MEAN, IMAGENET_STD, ClipTransform, random_crop_box, resize_clip

__all__ = [
    "DFEW",
    "DFEW_CLASSES",
    "FERV39K_CLASSES",
    "FRAME_EXTENSIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAFW",
    "MAFW_CLASSES",
    "SYNTHETIC_DYNAMICS",
    "AnnotationRow",
    "ClipDataset",
    "ClipTransform",
    "CorruptFrameError",
    "FERV39k",
    "balanced_sampler",
    "check_num_classes",
    "class_balanced_weights",
    "class_counts",
    "list_frames",
    "make_synthetic_dfew",
    "natural_key",
    "random_crop_box",
    "read_clip",
    "read_dfew_split",
    "read_ferv39k_split",
    "read_frame",
    "read_mafw_split",
    "resize_clip",
    "stratified_split",
    "synthetic_clip",
    "train_val_split",
    "uniform_indices",
]
