"""lifting_dfer: IFDD's learnable lifting scheme for dynamic facial expression recognition (AAAI 2025)."""

from .interpolation import interpolate_frames
from .issm import ISSM
from .ladm import LADM, LiftingAttention
from .loss import LiftLoss
from .pyramid import PyramidAggregation

__version__ = "0.1.0"

__all__ = [
    "ISSM",
    "LADM",
    "LiftLoss",
    "LiftingAttention",
    "PyramidAggregation",
    "interpolate_frames",
]
