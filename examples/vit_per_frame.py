"""Recipe: ISSM and LADM on the patch tokens of a timm image ViT applied to every frame.

Run: ``python examples/vit_per_frame.py`` (random clips, a randomly initialised ViT-Ti/16, CPU is enough).
Options: ``--frames 8 --size 112 --batch 2 --steps 3``. The training loss and loop are the R3D tutorial's
(``examples/tutorial_r3d.py``); docs/your-model.md shows this model next to it (tests/test_layer_examples.py).
"""

from __future__ import annotations

# The R3D tutorial's output type and training demo (docs/your-model.md shows LiftedOutput above the tabs).
from tutorial_r3d import LiftedOutput, arguments, demo

# isort: split
# --8<-- [start:model]
import timm
import torch
from einops import rearrange, reduce
from torch import Tensor, nn

from lifting_dfer import LADM, LazyISSM


class ViTLifting(nn.Module):
    """A timm ViT on every frame -> patch tokens ``(b t) (h w) c`` -> ISSM -> LADM -> mean of ``Y_D`` -> classifier.

    An image model keeps every frame, so ``t = t0``; ISSM and LADM take the ViT's tokens as they come, with time
    folded into the batch, and need only the sizes the tokens cannot tell: frames per clip and the patch grid.

    Shape:
        - clip: ``(b, 3, t0, s, s)`` with ``t0`` even and ``s`` the ViT's image size
        - tokens (X): ``(b t0, g_h g_w, c)``; ``y_s``: ``(b t0 / 2, g_h g_w, c)``; logits: ``(b, k)``
    """

    def __init__(self, num_classes: int = 7, *, num_frames: int = 8, image_size: int = 112, **vit: object) -> None:
        super().__init__()
        vit = {"model_name": "vit_tiny_patch16_224", **vit}  # timm overrides (depth=2, ...) as keyword arguments
        self.vit = timm.create_model(**vit, pretrained=False, num_classes=0, img_size=image_size)
        dim, (self.grid_h, _) = self.vit.num_features, self.vit.patch_embed.grid_size
        self.issm = LazyISSM(num_frames=num_frames, height=self.grid_h, layout="(b t) (h w) c")
        self.ladm = LADM(dim, heads=8, num_frames=num_frames // 2, layout="(b z) (h w) c")
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Dropout(0.5), nn.Linear(dim, num_classes))

    def features(self, clip: Tensor) -> Tensor:
        """The ViT's patch tokens of every frame, ``(b t) (h w) c`` (its class token dropped)."""
        tokens = self.vit.forward_features(rearrange(clip, "b c t h w -> (b t) c h w"))
        return tokens[:, self.vit.num_prefix_tokens :]

    def forward(self, clip: Tensor) -> LiftedOutput:
        tokens = self.features(clip)  # X, as the backbone emits it
        x_s, x_d = self.issm(tokens)  # Eqs. 1-3, sampled by Eq. 4: (b z) (h w) c each
        y_s, y_d = self.ladm(x_s, x_d)  # Eqs. 5-7
        z = self.issm.num_frames // 2
        pooled = reduce(y_d, "(b z) n c -> b c", "mean", z=z)
        to_map = "(b t) (h w) c -> b c t h w"  # LiftLoss takes the canonical layout
        y_s, x = rearrange(y_s, to_map, t=z, h=self.grid_h), rearrange(tokens, to_map, t=2 * z, h=self.grid_h)
        return LiftedOutput(self.head(pooled), y_s, x)


# --8<-- [end:model]


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__, frames=8, size=112, steps=3, frames_help="input frames t0 (even)",
                       size_help="frame height = width (a multiple of 16)")  # fmt: skip
    parser.add_argument("--depth", type=int, default=12, help="ViT blocks (12 in ViT-Ti/16)")
    args = parser.parse_args(argv)

    # --8<-- [start:run]
    torch.manual_seed(0)
    model = ViTLifting(num_classes=7, num_frames=args.frames, image_size=args.size, depth=args.depth)
    clips = torch.randn(args.batch, 3, args.frames, args.size, args.size)  # stand-in for normalised clips
    labels = torch.randint(0, 7, (args.batch,))

    print("backbone output '(b t) (h w) c':", tuple(model.features(clips).shape))
    demo(model, clips, labels, steps=args.steps)
    # --8<-- [end:run]


if __name__ == "__main__":
    main()
