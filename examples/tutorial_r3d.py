"""Tutorial: insert ISSM and LADM into a torchvision R3D-18 and train it with LiftLoss.

Run: ``python examples/tutorial_r3d.py`` (random clips, randomly initialised R3D-18, CPU is enough).
Options: ``--frames 16 --size 112 --batch 2 --steps 5``. The page docs/tutorial.md includes this file piece by
piece (the ``--8<--`` markers), so the documented code is the tested code (tests/test_tutorial.py).
"""

from __future__ import annotations

import argparse

# --8<-- [start:imports]
from typing import NamedTuple

import torch
import torch.nn.functional as F
from einops import reduce
from torch import Tensor, nn
from torchvision.models.video import r3d_18

from lifting_dfer import LADM, LazyISSM, LiftLoss

# --8<-- [end:imports]


# --8<-- [start:stages]
def stage_shapes(clip: Tensor) -> dict[str, tuple[int, ...]]:
    """Output shape of each R3D-18 stage for ``clip``: choose the feature map before building ISSM."""
    trunk = r3d_18(weights=None)
    shapes, x = {}, clip
    with torch.no_grad():
        for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
            x = getattr(trunk, name)(x)
            shapes[name] = tuple(x.shape)
    return shapes


# --8<-- [end:stages]


# --8<-- [start:output]
class LiftedOutput(NamedTuple):
    """What the training loss needs: logits for cross entropy, ``y_s`` and ``x`` for LiftLoss."""

    logits: Tensor  # (b, k)
    y_s: Tensor  # (b, c, z, h, w)
    x: Tensor  # (b, c, t, h, w)


# --8<-- [end:output]


# --8<-- [start:model]
class R3DLifting(nn.Module):
    """R3D-18 up to ``layer3``, then ISSM -> LADM -> mean-pool of ``Y_D`` -> linear classifier.

    Shape:
        - clip: ``(b, 3, t0, h0, w0)`` with ``t0`` a multiple of 8 and ``h0, w0`` multiples of 8, at least 16
        - x (layer3 output): ``(b, 256, t0 / 4, h0 / 8, w0 / 8)``; ``y_s``: ``(b, 256, t0 / 8, h0 / 8, w0 / 8)``
        - logits: ``(b, k)``
    """

    def __init__(self, num_classes: int = 7, *, dim: int = 256) -> None:
        super().__init__()
        trunk = r3d_18(weights=None)  # or weights="DEFAULT" / a local state_dict for Kinetics-400 features
        self.backbone = nn.Sequential(trunk.stem, trunk.layer1, trunk.layer2, trunk.layer3)
        # ISSM's W_T and b_T are sized by layer3's (c, t, h, w): LazyISSM reads them from the first clip.
        self.issm = LazyISSM(token_dim=128, compress=4)
        self.ladm = LADM(dim, heads=8)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Dropout(0.5), nn.Linear(dim, num_classes))

    def forward(self, clip: Tensor) -> LiftedOutput:
        x = self.backbone(clip)  # X: (b, c, t, h, w)
        x_s, x_d = self.issm(x)  # Eqs. 1-3, sampled by Eq. 4: (b, c, z, h, w) each, z = t / 2
        y_s, y_d = self.ladm(x_s, x_d)  # Eqs. 5-7
        pooled = reduce(y_d, "b c z h w -> b c", "mean")  # the dynamics Y_D carry the expression
        return LiftedOutput(self.head(pooled), y_s, x)


# --8<-- [end:model]


# --8<-- [start:loss]
lift_loss = LiftLoss()  # Eqs. 8-9: Huber on Avg_{t,c}(Y_S - AvgPool_t2(X)), weight 0.1


def training_loss(out: LiftedOutput, labels: Tensor) -> Tensor:
    """``cross_entropy(logits, labels) + LiftLoss(y_s, x)``, the paper's total loss."""
    return F.cross_entropy(out.logits, labels) + lift_loss(out.y_s, out.x)


# --8<-- [end:loss]


# --8<-- [start:train]
def train(model: nn.Module, clips: Tensor, labels: Tensor, *, steps: int, lr: float = 1e-4) -> list[float]:
    """AdamW steps on one fixed batch (the paper's optimiser and learning rate); returns the loss of each step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    model.train()
    losses = []
    for _ in range(steps):
        loss = training_loss(model(clips), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# --8<-- [end:train]


def arguments(doc: str, *, frames: int, size: int, steps: int, frames_help: str, size_help: str):
    """The command line of this example and of the recipes next to it (``--frames --size --batch --steps``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--frames", type=int, default=frames, help=frames_help)
    parser.add_argument("--size", type=int, default=size, help=size_help)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=steps)
    return parser


# --8<-- [start:demo]
def demo(model: nn.Module, clips: Tensor, labels: Tensor, *, steps: int) -> None:
    """Run the first clips through ``model`` (they size ISSM), print the shapes, then train ``steps`` steps."""
    out = model(clips)
    issm = model.issm
    print("ISSM built for (c, t, h, w):", (issm.dim, issm.num_frames, issm.height, issm.width))
    print("X (b, c, t, h, w):", tuple(out.x.shape))
    print("Y_S (b, c, z, h, w):", tuple(out.y_s.shape))
    print("logits (b, k):", tuple(out.logits.shape))
    print("loss per step:", [round(v, 4) for v in train(model, clips, labels, steps=steps)])


# --8<-- [end:demo]


# --8<-- [start:run]
def run(*, batch: int = 2, frames: int = 16, size: int = 112, steps: int = 5) -> None:
    """The tutorial on random clips: R3D-18's stage shapes, then the model's shapes and ``steps`` AdamW steps."""
    torch.manual_seed(0)
    model = R3DLifting(num_classes=7)
    clips = torch.randn(batch, 3, frames, size, size)  # stand-in for normalised clips
    labels = torch.randint(0, 7, (batch,))

    for name, shape in stage_shapes(clips).items():
        print(f"{name}: {shape}")
    demo(model, clips, labels, steps=steps)


# --8<-- [end:run]


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__, frames=16, size=112, steps=5, frames_help="input frames t0 (a multiple of 8)",
                       size_help="input height = width (a multiple of 8, >= 16)")  # fmt: skip
    args = parser.parse_args(argv)
    run(batch=args.batch, frames=args.frames, size=args.size, steps=args.steps)


if __name__ == "__main__":
    main()
