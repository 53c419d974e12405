"""Run an exported ONNX classifier with onnxruntime, with the metadata a checkpoint would give."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import check_shape
from .._optional import optional_import
from .sidecar import PARITY_TOLERANCE, ExportMetadata, read_sidecar

__all__ = ["OnnxRuntimeClassifier"]


def _runtime_errors(ort: Any) -> tuple[type[BaseException], ...]:
    """onnxruntime's own exception classes (they derive from ``Exception`` directly)."""
    state = ort.capi.onnxruntime_pybind11_state
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NotImplemented",
             "RuntimeException")  # fmt: skip
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


def _first_line(err: BaseException) -> str:
    """The first line of an error's message (the exporters and onnxruntime add pages of detail below it)."""
    text = str(err).strip()
    return text.splitlines()[0].strip() if text else type(err).__name__


class OnnxRuntimeClassifier:
    r"""Class probabilities of windows from a file written by ``lifting-dfer export --format onnx``.

    Loads the ONNX file into an onnxruntime session and its JSON sidecar
    ([`ExportMetadata`][lifting_dfer.export.ExportMetadata]), and checks that they belong together: the
    sidecar's SHA-256 names this file, the graph's input is ``(batch, 3, num_frames, input_size, input_size)`` and
    its ``probabilities`` output has one column per class.
    The attributes give what a PyTorch model and its checkpoint give (``predict`` prepares windows with them):
    ``class_names``, ``num_frames``, ``input_size``, ``mean``, ``std`` (normalisation of RGB in ``[0, 1]``),
    ``sampling`` (the training clips' sampling record, or ``None``), ``arch``; ``metadata`` holds the whole
    sidecar.

    Shape:
        - [`predict`][lifting_dfer.export.OnnxRuntimeClassifier.predict]: windows
          ``(b, 3, num_frames, input_size, input_size)`` float (numpy array or CPU tensor), normalised with
          ``mean`` / ``std`` -> probabilities ``(b, k)`` float32 numpy array

    Args:
        path: the ``.onnx`` file.
        sidecar: its sidecar; default ``<path>.json``.
        threads: onnxruntime's intra-op threads (``None``: onnxruntime's default, one per core).
        providers: onnxruntime execution providers, in order of preference (a name, or ``(name, options)``).
        spin: let idle intra-op threads spin between runs (fastest back-to-back runs); ``False`` when other work
            shares the cores between runs.
        memory_arena: onnxruntime's CPU memory arena (fast allocation; it keeps the largest memory it ever needed, and
            grows when input shapes vary); ``False`` returns memory after each run.

    Raises:
        ImportError: onnxruntime is missing (``pip install 'lifting_dfer[onnx]'``).
        FileNotFoundError: no model file, or no sidecar next to it.
        ValueError: the file is not a readable ONNX model (corrupt, truncated, another format), or the sidecar
            is invalid or belongs to another file; each message names the file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        sidecar: str | os.PathLike | None = None,
        threads: int | None = None,
        providers: Sequence[str | tuple[str, dict]] = ("CPUExecutionProvider",),
        spin: bool = True,
        memory_arena: bool = True,
    ) -> None:
        ort = optional_import("onnxruntime", extra="onnx")
        path = Path(path)
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise FileNotFoundError(f"ONNX model {path} {what}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads: expected a positive thread count or None, got {threads}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if not spin:  # idle threads sleep between runs instead of spinning (decoding and face detection need the CPU)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.enable_cpu_mem_arena = memory_arena
        try:
            self.session = ort.InferenceSession(str(path), options, providers=list(providers))
        except _runtime_errors(ort) as err:
            raise ValueError(
                f"{path} is not a readable ONNX model (corrupt, truncated or another format?): {_first_line(err)}"
            ) from err
        self.path = path
        self.metadata: ExportMetadata = read_sidecar(path, sidecar)
        self._check_graph()
        check = self.metadata.verification
        if check is None or not check.get("max_abs_diff", math.inf) <= PARITY_TOLERANCE:
            found = "was never verified" if check is None else f"differed from PyTorch by {check.get('max_abs_diff')}"
            warnings.warn(f"{path}: the export {found} (tolerance {PARITY_TOLERANCE:g}); export it again", stacklevel=2)

    def _check_graph(self) -> None:
        meta, where = self.metadata, f"{self.path} and its sidecar"
        if meta.model_format != "onnx":
            raise ValueError(f"{where}: the sidecar describes a {meta.model_format} export, not ONNX")
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        expected = [3, self.num_frames, self.input_size, self.input_size]
        if list(inputs) != [meta.input_name] or list(inputs[meta.input_name][1:]) != expected:
            raise ValueError(
                f"{where} disagree: the graph takes {inputs}, the sidecar says {meta.input_name!r} of shape "
                f"{list(meta.input_shape)}"
            )
        probs = outputs.get("probabilities")
        if probs is None or probs[-1] != len(meta.class_names):
            raise ValueError(
                f"{where} disagree: the graph gives {outputs}, the sidecar names {len(meta.class_names)} classes "
                "in a 'probabilities' output"
            )

    @property
    def class_names(self) -> tuple[str, ...]:
        """Classes, in the order of the probability columns."""
        return self.metadata.class_names

    @property
    def num_frames(self) -> int:
        """Frames per window ``t0``."""
        return self.metadata.num_frames

    @property
    def input_size(self) -> int:
        """Side ``h = w`` of the square face crops."""
        return self.metadata.input_size

    @property
    def mean(self) -> tuple[float, float, float]:
        """Per-channel mean of RGB in ``[0, 1]`` (windows are ``(rgb - mean) / std``)."""
        return self.metadata.mean

    @property
    def std(self) -> tuple[float, float, float]:
        """Per-channel standard deviation of RGB in ``[0, 1]``."""
        return self.metadata.std

    @property
    def sampling(self) -> dict | None:
        """How the training clips were sampled (``dataset``, ``frames_per_clip``, ``clip_seconds``, ``fps``)."""
        return self.metadata.sampling

    @property
    def arch(self) -> str:
        """Registry name of the exported model."""
        return self.metadata.arch

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, arch={self.arch!r}, classes={len(self.class_names)}, "
            f"num_frames={self.num_frames}, input_size={self.input_size})"
        )

    def predict(self, windows: np.ndarray | torch.Tensor) -> np.ndarray:
        """Class probabilities ``(b, k)`` of normalised windows ``(b, 3, t0, h, w)`` (see the class docstring)."""
        clip = torch.as_tensor(windows.detach().cpu() if isinstance(windows, torch.Tensor) else windows)
        size = self.input_size
        check_shape(clip, "b c t h w", "windows", c=3, t=self.num_frames, h=size, w=size)
        if clip.shape[0] == 0:  # a zero-size axis: ONNX Reshape reads 0 as "keep this axis"; nothing to run
            return np.zeros((0, len(self.class_names)), np.float32)
        feed = {self.metadata.input_name: clip.to(torch.float32).contiguous().numpy()}
        return self.session.run(["probabilities"], feed)[0]
