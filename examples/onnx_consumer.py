"""Classify one window of face crops with an exported model, using only onnxruntime, numpy and json.

This is what an application without PyTorch (and without lifting_dfer) needs: the ``.onnx`` file written by
``lifting-dfer export`` and its ``.onnx.json`` sidecar. Faces must be cropped to squares and the window must
have ``num_frames`` frames sampled as in training (see the sidecar's ``sampling``).

    python examples/onnx_consumer.py ifdd_2dcnn.onnx               # random frames: shows the plumbing
    python examples/onnx_consumer.py ifdd_2dcnn.onnx window.npy    # (t, h, w, 3) uint8 RGB face crops
"""

from __future__ import annotations

# --8<-- [start:consumer]
import json

import numpy as np
import onnxruntime as ort


def load(model_path: str):
    """The onnxruntime session and the sidecar of an exported model."""
    with open(model_path + ".json") as handle:
        meta = json.load(handle)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    return session, meta


def classify(session, meta: dict, frames: np.ndarray) -> dict[str, float]:
    """Class probabilities of one window: ``frames`` (t, h, w, 3) uint8 RGB, t = num_frames, h = w = input_size."""
    t, size = meta["num_frames"], meta["input_size"]
    if frames.shape != (t, size, size, 3) or frames.dtype != np.uint8:
        raise ValueError(f"frames: expected ({t}, {size}, {size}, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
    x = frames.astype(np.float32) / 255.0
    x = (x - np.asarray(meta["mean"], np.float32)) / np.asarray(meta["std"], np.float32)
    clip = np.ascontiguousarray(x.transpose(3, 0, 1, 2)[None])  # (1, 3, t, h, w)
    probabilities = session.run(["probabilities"], {meta["input_name"]: clip})[0][0]
    return dict(zip(meta["class_names"], probabilities.tolist()))


# --8<-- [end:consumer]


def main(argv: list[str] | None = None) -> dict[str, float]:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit(__doc__)
    session, meta = load(argv[0])
    if len(argv) > 1:
        frames = np.load(argv[1])
    else:
        size = meta["input_size"]
        frames = np.random.default_rng(0).integers(0, 256, (meta["num_frames"], size, size, 3), dtype=np.uint8)
    probabilities = classify(session, meta, frames)
    top = max(probabilities, key=probabilities.get)
    print(f"{top} ({probabilities[top]:.3f}); " + ", ".join(f"{k} {v:.3f}" for k, v in probabilities.items()))
    return probabilities


if __name__ == "__main__":
    main()
