"""Inference on raw videos: decode (PyAV), crop the face (OpenCV Haar cascade), classify windows of ``t0`` frames.

[`predict_video`][lifting_dfer.video.predict_video] is what ``lifting-dfer predict`` runs; it streams, so memory does
not depend on the video's length. Its pieces, one concept per module, are public so that other front ends can reuse
them:

- ``decode``: [`VideoStream`][lifting_dfer.video.VideoStream] (frames one at a time, sample-and-hold resampling),
  [`read_video`][lifting_dfer.video.read_video] (a short video as one array);
- ``faces``: [`FaceCropper`][lifting_dfer.video.FaceCropper], [`read_faces`][lifting_dfer.video.read_faces];
- ``normalize``: [`frames_to_clip`][lifting_dfer.video.frames_to_clip],
  [`clip_to_frames`][lifting_dfer.video.clip_to_frames], [`normalize_frames`][lifting_dfer.video.normalize_frames];
- ``windows``: [`sliding_windows`][lifting_dfer.video.sliding_windows],
  [`WindowSchedule`][lifting_dfer.video.WindowSchedule];
- ``cache``: [`FrameCache`][lifting_dfer.video.FrameCache], the per-frame (feature) store windows are assembled from;
- ``sampling``: the training clips' frame rate recorded in checkpoints
  ([`TrainingSampling`][lifting_dfer.video.TrainingSampling]) and the rate ``predict`` uses
  ([`choose_rate`][lifting_dfer.video.choose_rate]);
- ``backends``: the [`WindowBackend`][lifting_dfer.video.WindowBackend] interface and its registry;
  ``torch_backend``: [`TorchBackend`][lifting_dfer.video.TorchBackend];
  ``onnx_backend``: [`OnnxRuntimeBackend`][lifting_dfer.video.OnnxRuntimeBackend] (an exported ``.onnx`` file);
  ``fastpath``: BatchNorm folding and precision selection;
- ``pipeline``: [`predict_video`][lifting_dfer.video.predict_video];
- ``command``: the ``predict`` / ``explain`` commands (outputs, folders of videos).

PyAV and OpenCV are imported lazily (``pip install 'lifting_dfer[video]'``).
"""

from .backends import BackendInfo, WindowBackend, available_backends, load_backend, register_backend
from .cache import FrameCache
from .decode import Video, VideoInfo, VideoStream, read_video
from .faces import FaceCropper, read_faces
from .normalize import clip_to_frames, frames_to_clip, normalize_frames
from .onnx_backend import OnnxRuntimeBackend
from .pipeline import predict_video
from .sampling import TrainingSampling, checkpoint_sampling, choose_rate, training_sampling
from .torch_backend import TorchBackend
from .windows import WindowSchedule, sliding_windows

__all__ = [
    "BackendInfo",
    "FaceCropper",
    "FrameCache",
    "OnnxRuntimeBackend",
    "TorchBackend",
    "TrainingSampling",
    "Video",
    "VideoInfo",
    "VideoStream",
    "WindowBackend",
    "WindowSchedule",
    "available_backends",
    "checkpoint_sampling",
    "choose_rate",
    "clip_to_frames",
    "frames_to_clip",
    "load_backend",
    "normalize_frames",
    "predict_video",
    "read_faces",
    "read_video",
    "register_backend",
    "sliding_windows",
    "training_sampling",
]
