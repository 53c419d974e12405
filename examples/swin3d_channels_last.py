"""Recipe: ISSM and LADM on the channels-last feature map of torchvision's Video Swin Transformer (Swin3D-T).

Run: ``python examples/swin3d_channels_last.py`` (random clips, a randomly initialised Swin3D-T, CPU is enough).
Options: ``--frames 16 --size 112 --batch 2 --steps 3``. The training loss and loop are the R3D tutorial's
(``examples/tutorial_r3d.py``); docs/your-model.md shows this model next to it (tests/test_layer_examples.py).
"""

from __future__ import annotations

# The R3D tutorial's output type and training demo (docs/your-model.md shows LiftedOutput above the tabs).
from tutorial_r3d import LiftedOutput, arguments, demo

# isort: split
# --8<-- [start:model]
import torch
from einops import rearrange, reduce
from torch import Tensor, nn
from torchvision.models.video import swin3d_t

from lifting_dfer import LADM, LazyISSM


class SwinLifting(nn.Module):
    """Swin3D-T up to its third stage ``(b, t, h, w, c)`` -> ISSM -> LADM -> mean of ``Y_D`` -> classifier.

    Video Swin keeps its features channels last; ISSM and LADM take them so and return them so, and LazyISSM reads
    ``(c, t, h, w)`` from the first clip.

    Shape:
        - clip: ``(b, 3, t0, h0, w0)`` with ``t0`` a multiple of 4 and ``h0, w0`` multiples of 16
        - X (third stage): ``(b, t0 / 2, h0 / 16, w0 / 16, 384)``; logits: ``(b, k)``
    """

    def __init__(self, num_classes: int = 7, *, dim: int = 384) -> None:
        super().__init__()
        swin = swin3d_t(weights=None)  # or weights="DEFAULT" for Kinetics-400 features
        # patch embedding (t / 2, h / 4), then stage 1, merging (h / 8), stage 2, merging (h / 16), stage 3
        self.backbone = nn.Sequential(swin.patch_embed, swin.pos_drop, *swin.features[:5])
        self.issm = LazyISSM(compress=4, layout="b t h w c")
        self.ladm = LADM(dim, heads=8, layout="b z h w c")
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Dropout(0.5), nn.Linear(dim, num_classes))

    def features(self, clip: Tensor) -> Tensor:
        """Swin3D's third-stage map ``(b, t, h, w, c)``."""
        return self.backbone(clip)

    def forward(self, clip: Tensor) -> LiftedOutput:
        x = self.features(clip)  # X, channels last
        x_s, x_d = self.issm(x)  # Eqs. 1-3, sampled by Eq. 4: (b, z, h, w, c) each
        y_s, y_d = self.ladm(x_s, x_d)  # Eqs. 5-7
        pooled = reduce(y_d, "b z h w c -> b c", "mean")
        to_map = "b t h w c -> b c t h w"  # LiftLoss takes the canonical layout
        return LiftedOutput(self.head(pooled), rearrange(y_s, to_map), rearrange(x, to_map))


# --8<-- [end:model]


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__, frames=16, size=112, steps=3, frames_help="input frames t0 (a multiple of 4)",
                       size_help="frame height = width (a multiple of 16)")  # fmt: skip
    args = parser.parse_args(argv)

    # --8<-- [start:run]
    torch.manual_seed(0)
    model = SwinLifting(num_classes=7)
    clips = torch.randn(args.batch, 3, args.frames, args.size, args.size)  # stand-in for normalised clips
    labels = torch.randint(0, 7, (args.batch,))

    print("backbone output 'b t h w c':", tuple(model.features(clips).shape))
    demo(model, clips, labels, steps=args.steps)
    # --8<-- [end:run]


if __name__ == "__main__":
    main()
