"""uint8 RGB frames to the models' float input and back: [`lifting_dfer.normalization`][lifting_dfer.normalization]'s
functions, here where the video pipeline has always imported them."""

from ..normalization import clip_to_frames, frames_to_clip, normalize_frames

__all__ = ["clip_to_frames", "frames_to_clip", "normalize_frames"]
