"""Quickstart: the IFDD head (PyramidAggregation -> ISSM -> LADM -> LiftLoss) on random clip features.

Run: ``python examples/quickstart.py``. Prints the shapes at each step, the learned split indices and the loss;
no data or weights needed. The features stand in for a MobileNetV2 applied to a 16-frame clip (T = 8 after the
temporal stride 2) at widths 56/28/14, as in IFDD-2DCNN.
"""

from __future__ import annotations

import torch

from lifting_dfer import ISSM, LADM, LiftLoss, PyramidAggregation


def main() -> None:
    torch.manual_seed(0)
    b, t, c = 2, 8, 128
    stages = [(24, 56), (32, 28), (96, 14)]  # (channels, width) of the backbone stages
    features = [torch.randn(b, ch, t, s, s, requires_grad=True) for ch, s in stages]

    aggregate = PyramidAggregation([ch for ch, _ in stages], c)
    issm = ISSM(c, num_frames=t, height=14, width=14, token_dim=128, compress=1)
    ladm = LADM(c, heads=8)
    lift_loss = LiftLoss()
    with torch.no_grad():  # a trained ISSM moves its indices; nudge the zero-initialised offsets to show it
        issm.to_static.weight.normal_(0, 0.05)
        issm.to_dynamic.weight.normal_(0, 0.05)

    x = aggregate(features)
    x_s, x_d, (i_s, i_d) = issm(x, return_indices=True)
    y_s, y_d = ladm(x_s, x_d)
    loss = lift_loss(y_s, x) + y_d.mean(dim=(2, 3, 4)).square().mean()  # stand-in for the classifier's loss
    loss.backward()

    print("backbone features:", [tuple(f.shape) for f in features])
    print("X   (b, c, t, h, w):", tuple(x.shape))
    print("X_S, X_D (b, c, z, h, w):", tuple(x_s.shape), tuple(x_d.shape))
    print("Y_S, Y_D (b, c, z, h, w):", tuple(y_s.shape), tuple(y_d.shape))
    for i in range(b):
        print(
            f"clip {i}: static indices {[round(v, 2) for v in i_s[i].tolist()]}, "
            f"dynamic indices {[round(v, 2) for v in i_d[i].tolist()]}"
        )
    grads = sum(p.grad is not None for m in (aggregate, issm, ladm) for p in m.parameters())
    total = sum(1 for m in (aggregate, issm, ladm) for _ in m.parameters())
    print(f"loss {loss.item():.4f}; {grads}/{total} parameter tensors received gradients")


if __name__ == "__main__":
    main()
