"""torchvision's video MViT-v2-S, trimmed as in IFDD's appendix (the IFDD-3DViT backbone)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from .base import MultiscaleBackbone, load_state_dict_file, load_weights
from .hub import resolve_weights

if TYPE_CHECKING:
    from torchvision.models.video.mvit import MSBlockConfig

__all__ = ["MViTFeatures"]

# MViT-v2-S: blocks per stage and the channels / spatial stride of each stage's output.
_STAGE_BLOCKS = (1, 2, 11, 2)
_STAGE_DIMS = (96, 192, 384, 768)
_STAGE_REDUCTIONS = (4, 8, 16, 32)
_STAGE_HEADS = (1, 2, 4, 8)
_STAGE_KV_STRIDES = (8, 4, 2, 1)


def _block_config(stage: int, first: bool) -> MSBlockConfig:
    """MViT-v2-S's block in ``stage`` (0-based): the first block of stages 2-4 doubles the width and halves h, w."""
    from torchvision.models.video.mvit import MSBlockConfig  # imported when a model is built, not with the package

    grows = first and stage > 0
    return MSBlockConfig(
        num_heads=_STAGE_HEADS[stage],
        input_channels=_STAGE_DIMS[stage - 1] if grows else _STAGE_DIMS[stage],
        output_channels=_STAGE_DIMS[stage],
        kernel_q=[3, 3, 3],
        kernel_kv=[3, 3, 3],
        stride_q=[1, 2, 2] if grows else [1, 1, 1],
        stride_kv=[1, _STAGE_KV_STRIDES[stage], _STAGE_KV_STRIDES[stage]],
    )


class MViTFeatures(MultiscaleBackbone):
    r"""Video MViT-v2-S with shortened stages, returning the (class-token-free) features of chosen stages.

    The patch embedding (``Conv3d`` 3x7x7, stride 2x4x4) gives the temporal stride 2: ``t = t0 / 2``; with
    ``temporal_pool = k`` its output is then averaged over groups of ``k`` frames, ``t = t0 / (2 k)``. Stage ``s``
    keeps its first ``depths[s]`` blocks (MViT-v2-S has ``(1, 2, 11, 2)``; IFDD removes 6 blocks of stage 3:
    ``(1, 2, 5, 2)``); stages after the last returned one are dropped. torchvision's pooling attention expects a
    class token at position 0, so the token is kept inside the blocks (and its pretrained value loaded) but it is
    removed from every returned feature and no classifier reads it. The final LayerNorm of MViT is applied to the
    output of stage 4 when that stage is kept. Relative position tables depend on the input size, so the network
    is built for one ``(num_frames, image_size)``.

    Shape:
        - clip: ``(b, 3, t0, h0, w0)`` with ``(h0, w0) = image_size``
        - output: for each ``s`` in ``out_stages``: ``(b, c_s, t0/2, h0/r_s, w0/r_s)`` with
          ``c = 96, 192, 384, 768`` and ``r = 4, 8, 16, 32`` for stages 1-4 (``t0 / (2 k)`` frames with
          ``temporal_pool = k``)

    Args:
        num_frames: ``t0`` (even).
        image_size: ``(h0, w0)`` (or one int), multiples of 32.
        depths: blocks kept in each stage, at most ``(1, 2, 11, 2)``.
        out_stages: stages returned, 1-based and increasing (IFDD-3DViT: ``(3, 4)``).
        stochastic_depth_prob: torchvision's stochastic depth rate (0.2 for MViT-v2-S), rising linearly over
            the kept blocks.
        temporal_pool: ``k``, frames averaged after the patch embedding (``AvgPool3d((k, 1, 1))``); 1 (none) for
            MViT-v2-S; the authors' MAFW model uses 2, so that 32 frames give the 8 temporal tokens 16 frames give
            (``lifting_dfer.authors``). The blocks are built for ``t0 / k`` input frames.
        pretrained: ``None``, a file with torchvision's ``mvit_v2_s`` state dict, or a torchvision weights name
            (``"MViT_V2_S_Weights.KINETICS400_V1"``), taken from torch's hub cache or downloaded there (see
            [`resolve_weights`][lifting_dfer.backbones.resolve_weights]). Removed blocks are skipped and the later
            ones renumbered; the classifier head is ignored. Needs ``num_frames / temporal_pool = 16``,
            ``image_size=224`` (the tables' sizes); any mismatch raises a ``ValueError`` listing the keys.

    Examples:
        >>> import torch
        >>> net = MViTFeatures(num_frames=4, image_size=64, depths=(1, 1, 1, 1))
        >>> [tuple(f.shape) for f in net(torch.randn(1, 3, 4, 64, 64))]
        [(1, 384, 2, 4, 4), (1, 768, 2, 2, 2)]
    """

    def __init__(
        self,
        num_frames: int = 16,
        image_size: int | tuple[int, int] = 224,
        *,
        depths: Sequence[int] = (1, 2, 5, 2),
        out_stages: Sequence[int] = (3, 4),
        stochastic_depth_prob: float = 0.2,
        temporal_pool: int = 1,
        pretrained: str | os.PathLike | None = None,
    ) -> None:
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        size = (height, width)
        depths, out_stages = tuple(depths), tuple(out_stages)
        if len(depths) != 4 or any(not 1 <= d <= full for d, full in zip(depths, _STAGE_BLOCKS)):
            raise ValueError(f"depths: expected 4 block counts in 1..{_STAGE_BLOCKS} per stage, got {depths}")
        if not out_stages or list(out_stages) != sorted(set(out_stages)) or not set(out_stages) <= {1, 2, 3, 4}:
            raise ValueError(f"out_stages: expected increasing stage numbers in 1..4, got {out_stages}")
        if not isinstance(temporal_pool, int) or temporal_pool < 1:
            raise ValueError(f"temporal_pool: expected a positive number of frames, got {temporal_pool!r}")
        if num_frames < 2 * temporal_pool or num_frames % (2 * temporal_pool):
            need = "an even t0" if temporal_pool == 1 else f"t0 a multiple of {2 * temporal_pool} (temporal_pool)"
            raise ValueError(
                f"num_frames: the patch embedding has temporal stride 2, expected {need}, got {num_frames}"
            )
        if any(s < 32 or s % 32 for s in size):
            raise ValueError(f"image_size: expected multiples of 32 (stage 4 has stride 32), got {size}")
        super().__init__(
            [_STAGE_DIMS[s - 1] for s in out_stages],
            [_STAGE_REDUCTIONS[s - 1] for s in out_stages],
            num_frames=num_frames,
            frame_stride=2 * temporal_pool,
            image_size=size,
        )
        self.depths, self.out_stages, self.temporal_pool = depths, out_stages, temporal_pool
        last = out_stages[-1]
        from torchvision.models.video.mvit import MViT

        # torchvision's MViT-v2-S settings (mvit_v2_s), built with only the kept blocks.
        net = MViT(
            spatial_size=size,
            temporal_size=num_frames // temporal_pool,
            block_setting=[_block_config(s, i == 0) for s in range(last) for i in range(depths[s])],
            residual_pool=True,
            residual_with_cls_embed=False,
            rel_pos_embed=True,
            proj_after_attn=True,
            stochastic_depth_prob=stochastic_depth_prob,
        )
        # Index in the full network of every kept block (for pretrained weights), and the last block of each stage.
        starts = [sum(_STAGE_BLOCKS[:s]) for s in range(4)]
        self._source_blocks = [starts[s] + i for s in range(last) for i in range(depths[s])]
        self._stage_ends = [sum(depths[: s + 1]) - 1 for s in range(last)]
        self.conv_proj, self.pos_encoding, self.blocks = net.conv_proj, net.pos_encoding, net.blocks
        self.norm = net.norm if last == 4 else None
        if pretrained is not None:
            self.load_pretrained(pretrained)

    def load_pretrained(self, source: str | os.PathLike) -> None:
        """Load torchvision ``mvit_v2_s`` weights from a file or a weights name (see the class Args)."""
        path = resolve_weights(source)
        renumber = {src: new for new, src in enumerate(self._source_blocks)}
        state = {}
        for key, value in load_state_dict_file(path).items():
            head, _, rest = key.partition(".")
            if head == "blocks":
                index, _, tail = rest.partition(".")
                if int(index) in renumber:
                    state[f"blocks.{renumber[int(index)]}.{tail}"] = value
            elif head != "head" and (head != "norm" or self.norm is not None):
                state[key] = value
        load_weights(self, state, source=str(path))

    def forward_features(self, clip: Tensor) -> list[Tensor]:
        if clip.shape[0] == 0:  # torchvision's attention pooling cannot reshape an empty batch: nothing to compute
            return [clip.new_zeros(0, *shape) for shape in self.feature_shapes(*clip.shape[-2:])]
        x = self.conv_proj(clip)
        if self.temporal_pool > 1:
            x = F.avg_pool3d(x, (self.temporal_pool, 1, 1))
        x = rearrange(x, "b c t h w -> b (t h w) c")
        x = self.pos_encoding(x)  # prepends the class token
        thw = (self.pos_encoding.temporal_size, *self.pos_encoding.spatial_size)
        out = []
        for i, block in enumerate(self.blocks):
            x, thw = block(x, thw)
            if i in self._stage_ends and self._stage_ends.index(i) + 1 in self.out_stages:
                y = self.norm(x) if self.norm is not None and i == len(self.blocks) - 1 else x
                t, h, w = thw
                out.append(rearrange(y[:, 1:], "b (t h w) c -> b c t h w", t=t, h=h, w=w))  # drop the class token
        return out
