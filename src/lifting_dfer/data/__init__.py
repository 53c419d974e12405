"""Data: DFEW, FERV39k and MAFW readers, your own videos (``prepare_videos`` and ``FolderDataset``), a synthetic
DFEW and synthetic face videos, temporal sampling, clip transforms, resampling.

Every dataset yields ``(clip, label)`` with ``clip: (3, T0, size, size)`` float32 ImageNet-normalised (or, with
``output="uint8"``, the same clip as uint8 pixels for [`ClipNormalize`][lifting_dfer.data.ClipNormalize] to
normalise on the device) and exposes ``class_names``, ``labels`` and ``samples`` (frame folders). See
docs/datasets.md and docs/own-videos.md.
"""

from ..temporal_sampling import uniform_indices
from ._io import AnnotationRow, Issue, SplitRows
from .allocator import init_worker, reuse_freed_memory
from .check import DataReport, check_dataset, check_folder, dataset_layout
from .clips import ClipDataset, check_num_classes
from .device_transform import ClipNormalize, JpegClip, JpegClips, collate_clips
from .dfew import DFEW, DFEW_CLASSES, DFEW_FRAME_SETS, DFEW_OFFICIAL_COUNTS, dfew_layout, read_dfew_split
from .ferv39k import FERV39K_CLASSES, FERV39K_OFFICIAL_COUNTS, FERV39k, ferv39k_layout, read_ferv39k_split
from .folder import FolderDataset
from .frames import (
    FRAME_EXTENSIONS,
    CorruptFrameError,
    frame_files,
    list_frames,
    natural_key,
    read_clip,
    read_frame,
    read_frames,
    read_jpeg_bytes,
)
from .layout import DatasetLayout
from .mafw import (
    MAFW,
    MAFW_CLASS_ORDERS,
    MAFW_CLASSES,
    MAFW_COMPOUND_CLASSES,
    MAFW_OFFICIAL_COUNTS,
    mafw_class_names,
    mafw_layout,
    read_mafw_split,
)
from .prepare import prepare_videos
from .sampler import balanced_sampler, class_balanced_weights, class_counts
from .splits import stratified_split, train_val_split
from .synthetic import SYNTHETIC_DYNAMICS, make_synthetic_dfew, synthetic_clip
from .synthetic_videos import make_face_videos
from .transforms import IMAGENET_MEAN, IMAGENET_STD, ClipTransform, CropDraw, crop_box, random_crop_box, resize_clip

__all__ = [
    "DFEW",
    "DFEW_CLASSES",
    "DFEW_FRAME_SETS",
    "DFEW_OFFICIAL_COUNTS",
    "FERV39K_CLASSES",
    "FERV39K_OFFICIAL_COUNTS",
    "FRAME_EXTENSIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAFW",
    "MAFW_CLASSES",
    "MAFW_CLASS_ORDERS",
    "MAFW_COMPOUND_CLASSES",
    "MAFW_OFFICIAL_COUNTS",
    "SYNTHETIC_DYNAMICS",
    "AnnotationRow",
    "ClipDataset",
    "ClipNormalize",
    "ClipTransform",
    "CorruptFrameError",
    "CropDraw",
    "DataReport",
    "DatasetLayout",
    "FERV39k",
    "FolderDataset",
    "Issue",
    "JpegClip",
    "JpegClips",
    "SplitRows",
    "balanced_sampler",
    "check_dataset",
    "check_folder",
    "check_num_classes",
    "class_balanced_weights",
    "class_counts",
    "collate_clips",
    "crop_box",
    "dataset_layout",
    "dfew_layout",
    "ferv39k_layout",
    "frame_files",
    "init_worker",
    "list_frames",
    "mafw_class_names",
    "mafw_layout",
    "make_face_videos",
    "make_synthetic_dfew",
    "natural_key",
    "prepare_videos",
    "random_crop_box",
    "read_clip",
    "read_dfew_split",
    "read_ferv39k_split",
    "read_frame",
    "read_frames",
    "read_jpeg_bytes",
    "read_mafw_split",
    "resize_clip",
    "reuse_freed_memory",
    "stratified_split",
    "synthetic_clip",
    "train_val_split",
    "uniform_indices",
]
