"""Quickstart, part 2: a full IFDD-2DCNN on random clips, in eval mode and for one training loss.

Run: ``python examples/quickstart_model.py`` (CPU is enough; randomly initialised, nothing downloaded).
docs/quickstart.md includes its two sections, which run as they are when pasted into an interpreter; the docs
tests run them and compare what they print with the page.
"""

# --8<-- [start:model]
import torch

from lifting_dfer import ifdd_2dcnn, list_models

torch.manual_seed(0)
num_frames, size = 16, 224  # clips of T0 = 16 frames at 224 x 224, the paper's input

print(list_models())
model = ifdd_2dcnn(num_classes=7, num_frames=num_frames, image_size=size).eval()
clips = torch.randn(2, 3, num_frames, size, size)  # (b, 3, T0, H, W), ImageNet-normalised
with torch.no_grad():
    logits = model(clips)
print("logits (b, k):", tuple(logits.shape))
# --8<-- [end:model]

# --8<-- [start:loss]
import torch.nn.functional as F  # noqa: E402 (each section brings its imports: the page shows them apart)

from lifting_dfer import LiftLoss  # noqa: E402

labels = torch.tensor([0, 3])
out = model.train()(clips)  # IFDDOutput in training mode
loss = F.cross_entropy(out.logits, labels) + LiftLoss()(out.y_s, out.x)
loss.backward()
print("Y_S (b, c, z, h, w):", tuple(out.y_s.shape), "X (b, c, t, h, w):", tuple(out.x.shape))
print("ISSM positions i_s, i_d (b, z):", tuple(out.indices[0].shape), tuple(out.indices[1].shape))
# --8<-- [end:loss]
