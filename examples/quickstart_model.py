"""Quickstart, part 2: a full IFDD-2DCNN on random clips, in eval mode and for one training loss.

Run: ``python examples/quickstart_model.py`` (CPU is enough; randomly initialised, nothing downloaded).
docs/quickstart.md includes this file's sections; tests/test_docs.py runs it on small clips.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16, help="frames T0 per clip")
    parser.add_argument("--size", type=int, default=224, help="frame height = width")
    args = parser.parse_args(argv)
    num_frames, size = args.frames, args.size
    torch.manual_seed(0)

    # --8<-- [start:model]
    from lifting_dfer import ifdd_2dcnn, list_models

    print(list_models())  # ['baseline_2dcnn', 'baseline_3dvit', 'ifdd_2dcnn', 'ifdd_3dvit', 'ifdd_3dvit_authors']
    model = ifdd_2dcnn(num_classes=7, num_frames=num_frames, image_size=size).eval()  # 16, 224 by default
    clips = torch.randn(2, 3, num_frames, size, size)  # (b, 3, T0, H, W), ImageNet-normalised
    with torch.no_grad():
        logits = model(clips)
    print("logits (b, k):", tuple(logits.shape))
    # --8<-- [end:model]

    # --8<-- [start:loss]
    from lifting_dfer import LiftLoss

    labels = torch.tensor([0, 3])
    out = model.train()(clips)  # IFDDOutput in training mode
    loss = F.cross_entropy(out.logits, labels) + LiftLoss()(out.y_s, out.x)
    loss.backward()
    print("Y_S (b, c, z, h, w):", tuple(out.y_s.shape), "X (b, c, t, h, w):", tuple(out.x.shape))
    print("ISSM positions i_s, i_d (b, z):", tuple(out.indices[0].shape), tuple(out.indices[1].shape))
    # --8<-- [end:loss]


if __name__ == "__main__":
    main()
