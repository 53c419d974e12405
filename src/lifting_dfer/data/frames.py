"""Frame folders: natural ordering of frame files and fast decoding (libjpeg-turbo / libpng via torchvision.io).

A clip is a folder of image files named by frame number (``1.jpg .. 16.jpg``, ``00001_00012.jpg``,
``000123.png``). Files are ordered *naturally* (by the integers in their names, so ``2.jpg`` < ``10.jpg``), never
lexicographically. Frames decode to ``uint8`` RGB tensors ``(3, h, w)``; grey or RGBA files are converted.

Decoding uses ``torchvision.io`` (libjpeg-turbo/libpng, about twice as fast as Pillow on 224x224 JPEGs). Its
image functions are deprecated since torchvision 0.29 in favour of TorchCodec; where they are missing, frames
are decoded with Pillow instead, with identical results for lossless formats.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

try:
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg
except ImportError:  # torchvision without image I/O: Pillow fallback
    decode_image = decode_jpeg = None

__all__ = [
    "FRAME_EXTENSIONS",
    "CorruptFrameError",
    "frame_files",
    "is_frame_name",
    "list_frames",
    "natural_key",
    "read_clip",
    "read_frame",
    "read_frames",
    "read_jpeg_bytes",
]

logger = logging.getLogger(__name__)

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
"""File suffixes (any case) read as frames of a clip folder; other files are ignored."""
_DIGITS = re.compile(r"(\d+)")


class CorruptFrameError(ValueError):
    """A frame file could not be decoded (truncated, empty or not an image); the message names the file."""


def natural_key(name: str) -> tuple:
    """Sort key that compares the digit runs of ``name`` as integers (``"2.jpg"`` before ``"10.jpg"``).

    Examples:
        >>> sorted(["10.jpg", "2.jpg", "1.jpg"], key=natural_key)
        ['1.jpg', '2.jpg', '10.jpg']
    """
    parts = _DIGITS.split(name)
    # re.split with a capture group alternates text / digits, so equal positions always hold equal types.
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))


def is_frame_name(name: str) -> bool:
    """Whether a file name is a frame: one of ``FRAME_EXTENSIONS`` (any case), not a hidden file."""
    return name.lower().endswith(FRAME_EXTENSIONS) and not name.startswith(".")


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """The image files of a clip folder in natural order.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: the folder holds no file with one of ``FRAME_EXTENSIONS``.
    """
    return [Path(f) for f in frame_files(folder)]


def frame_files(folder: str | os.PathLike) -> list[str]:
    """[`list_frames`][lifting_dfer.data.list_frames] as plain strings: a third of its time, for reading a clip
    per item."""
    folder = os.fspath(folder)
    try:
        names = [n for n in os.listdir(folder) if is_frame_name(n)]
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"clip folder {folder} does not exist") from None
    if not names:
        raise ValueError(f"clip folder {folder} contains no frames (expected files ending in {FRAME_EXTENSIONS})")
    names.sort(key=natural_key)
    return [os.path.join(folder, n) for n in names]


def read_frame(path: str | os.PathLike) -> Tensor:
    """Decode one frame file to ``uint8`` RGB.

    Shape:
        returns ``(3, h, w)``, dtype ``uint8``.

    Raises:
        FileNotFoundError: the file does not exist.
        CorruptFrameError: the file is empty, truncated or not a supported image.
    """
    path = os.fspath(path)
    if decode_image is None:
        _read_bytes(path)  # the same errors for missing and empty files
        return _read_frame_pil(path)
    try:
        frame = decode_image(_read_bytes(path), mode=ImageReadMode.RGB)
    except RuntimeError as err:
        raise CorruptFrameError(f"cannot decode frame {path}: {str(err).splitlines()[-1]}") from err
    if frame.dtype != torch.uint8:  # 16-bit PNG
        frame = (frame.to(torch.int32) >> 8).to(torch.uint8)
    return frame


def _read_bytes(path: str) -> Tensor:
    """The bytes of a frame file as a 1-D uint8 tensor (see ``_read_file``)."""
    return torch.frombuffer(_read_file(path), dtype=torch.uint8)


def _read_file(path: str) -> bytearray:
    """The bytes of a frame file, in three system calls (open, fstat, read) and no separate existence checks;
    Python's ``open`` makes twice as many, which shows at 16 small files per clip."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"frame {path} does not exist") from None
    try:
        data = bytearray(os.fstat(fd).st_size)
        size = os.readv(fd, [data])
    except IsADirectoryError:
        raise FileNotFoundError(f"frame {path} does not exist") from None
    finally:
        os.close(fd)
    if size == 0:
        raise CorruptFrameError(f"cannot decode frame {path}: empty file")
    del data[size:]  # a file that shrank between fstat and read
    return data


def read_jpeg_bytes(
    frames: Sequence[str | os.PathLike],
    indices: Sequence[int],
    *,
    on_corrupt: Literal["raise", "skip"] = "raise",
) -> tuple[list[Tensor], int]:
    """The undecoded bytes of ``frames[i]`` for each ``i`` in ``indices`` (each distinct file read once), for
    decoding elsewhere (``torchvision.io.decode_jpeg(..., device="cuda")``).

    Only JPEG frames can be read so: a file without JPEG's start-of-image marker is unreadable. With
    ``on_corrupt="skip"``, a missing, empty or non-JPEG file is replaced by the nearest readable one as in
    [`read_clip`][lifting_dfer.data.read_clip]; a JPEG truncated further in is only found when it is decoded.

    Returns:
        one 1-D uint8 tensor per index, and the number of replaced files.

    Raises:
        CorruptFrameError: a frame is not a JPEG file and ``on_corrupt="raise"``, or no frame of the clip is one.
        FileNotFoundError: a missing frame and ``on_corrupt="raise"``.
        IndexError: an index outside ``[0, len(frames))``.
    """

    def read(path: str) -> Tensor:
        data = _read_file(path)
        if len(data) < 4 or not data.startswith(b"\xff\xd8"):
            raise CorruptFrameError(f"cannot decode frame {path} on the device: not a JPEG file")
        return torch.frombuffer(data, dtype=torch.uint8)

    _check_request(frames, indices, on_corrupt)
    return _gather(frames, indices, on_corrupt, read)


def _read_frame_pil(path: str) -> Tensor:
    from PIL import Image

    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:  # PIL raises these for unknown/truncated files
        raise CorruptFrameError(f"cannot decode frame {path}: {err}") from err
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def read_clip(
    frames: Sequence[str | os.PathLike],
    indices: Sequence[int],
    *,
    on_corrupt: Literal["raise", "skip"] = "raise",
) -> tuple[Tensor, int]:
    """Decode ``frames[i]`` for each ``i`` in ``indices`` (each distinct file once) and stack them.

    With ``on_corrupt="skip"``, an unreadable frame is replaced by the nearest readable frame of the same clip
    (searching outwards, earlier frame first on ties) and a warning is logged; the count of replaced files is
    returned. Frames whose size differs from the first sampled frame are resized to it.

    The frames are stacked in the decoder's memory order, pixel by pixel (``channels_last``: ``(t, h, w, 3)`` in
    memory), which saves a transposing copy; ``.contiguous()`` gives the usual layout.

    Shape:
        returns ``frames: (t, 3, h, w)`` uint8 with ``t = len(indices)``, and the number of replaced files.

    Raises:
        CorruptFrameError: a frame is unreadable and ``on_corrupt="raise"``, or no frame of the clip is readable.
        IndexError: an index outside ``[0, len(frames))``.
    """
    out, skipped = read_frames(frames, indices, on_corrupt=on_corrupt)
    return rearrange(torch.stack([img.permute(1, 2, 0) for img in out]), "t h w c -> t c h w"), skipped


def read_frames(
    frames: Sequence[str | os.PathLike],
    indices: Sequence[int],
    *,
    on_corrupt: Literal["raise", "skip"] = "raise",
) -> tuple[list[Tensor], int]:
    """[`read_clip`][lifting_dfer.data.read_clip] without the stacking: the decoded frames as a list (for
    [`ClipTransform`][lifting_dfer.data.ClipTransform], which copies only the crop of each), each ``(3, h, w)``
    uint8 of the first sampled frame's size, and the number of replaced files.

    When every sampled file is a readable JPEG (the usual case) they are decoded by one ``decode_jpeg`` call;
    anything amiss (a missing, empty, non-JPEG or corrupt file) goes frame by frame, to be reported or replaced.
    """
    _check_request(frames, indices, on_corrupt)
    out, skipped = _read_jpeg_frames(frames, indices) or _gather(frames, indices, on_corrupt, read_frame)
    h, w = out[0].shape[-2:]
    return [img if img.shape[-2:] == (h, w) else _resize_uint8(img, h, w) for img in out], skipped


def _read_jpeg_frames(frames: Sequence[str | os.PathLike], indices: Sequence[int]) -> tuple[list[Tensor], int] | None:
    """The common case in one go: every sampled file is a readable JPEG, decoded by one ``decode_jpeg`` call
    (``decode_image``'s decoder for JPEGs, without its per-frame checks). ``None`` when anything is amiss."""
    if decode_jpeg is None:
        return None
    distinct = list(dict.fromkeys(indices))
    try:
        files = [_read_file(os.fspath(frames[i])) for i in distinct]
        if not all(f.startswith(b"\xff\xd8") for f in files):
            return None
        decoded = decode_jpeg([torch.frombuffer(f, dtype=torch.uint8) for f in files], mode=ImageReadMode.RGB)
    except (OSError, RuntimeError, CorruptFrameError):
        return None
    by_index = dict(zip(distinct, decoded))
    return [by_index[i] for i in indices], 0


def _check_request(frames: Sequence[str | os.PathLike], indices: Sequence[int], on_corrupt: str) -> None:
    if on_corrupt not in ("raise", "skip"):
        raise ValueError(f"on_corrupt: expected 'raise' or 'skip', got {on_corrupt!r}")
    n = len(frames)
    if n == 0:
        raise ValueError("frames: expected at least one frame path, got none")
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise IndexError(f"indices: {bad} outside the clip's {n} frames")


def _gather(
    frames: Sequence[str | os.PathLike], indices: Sequence[int], on_corrupt: str, read: Callable[[str], Tensor]
) -> tuple[list[Tensor], int]:
    """``read(frames[i])`` for each index (each distinct file once), unreadable files replaced as ``on_corrupt``
    says; returns the list and the number of replaced files. The caller has checked the request
    (``_check_request``)."""
    n = len(frames)

    decoded: dict[int, Tensor] = {}
    unreadable: set[int] = set()
    skipped = 0

    def load(i: int) -> Tensor | None:
        if i in decoded:
            return decoded[i]
        if i in unreadable:
            return None
        try:
            decoded[i] = read(os.fspath(frames[i]))
        except (CorruptFrameError, FileNotFoundError):
            if on_corrupt == "raise":
                raise
            unreadable.add(i)
            return None
        return decoded[i]

    out: dict[int, Tensor] = {}
    for i in dict.fromkeys(indices):
        img = load(i)
        if img is None:
            img = _nearest_readable(i, n, load)
            if img is None:
                folder = Path(frames[0]).parent
                raise CorruptFrameError(f"clip {folder}: none of its {n} frames can be decoded")
            skipped += 1
            logger.warning("unreadable frame %s replaced by the nearest readable frame of its clip", frames[i])
        out[i] = img
    return [out[i] for i in indices], skipped


def _nearest_readable(i: int, n: int, load) -> Tensor | None:
    for d in range(1, n):
        for j in (i - d, i + d):
            if 0 <= j < n:
                img = load(j)
                if img is not None:
                    return img
    return None


def _resize_uint8(img: Tensor, h: int, w: int) -> Tensor:
    x = F.interpolate(img[None].float(), size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return x[0].clamp(0, 255).add_(0.5).to(torch.uint8)  # round half up (x >= 0)
