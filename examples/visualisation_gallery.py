"""Every figure of lifting_dfer.viz and the lifting-dfer CLI, from the CPU demo model (no data or weights needed).

::

    python examples/visualisation_gallery.py                      # train the demo if needed -> docs/assets/*.png
    python examples/visualisation_gallery.py --checkpoint CKPT --out gallery/   # any trained checkpoint
    python examples/visualisation_gallery.py --untrained --out gallery-check           # format check in seconds

Without ``--checkpoint`` it uses the demo of ``examples/train_dfew.py`` (IFDD-2DCNN, 8 frames of 64x64, 10 epochs
on a synthetic DFEW): it trains it into ``runs/demo`` first, or continues or reuses the run already there (a few
minutes on an idle 2-core CPU), then draws from its ``fold1/best.pt``.

Writes ``timeline.png`` (``lifting-dfer predict`` on a video of three synthetic clips: Happy, Surprise, Sad),
``indices.png`` and ``gradcam.png`` (``lifting-dfer explain`` on its first window), and ``tsne.png``,
``radar.png``, ``confusion.png`` (classifier features and predictions of fresh synthetic clips, drawn with
another seed than the training data). The data are moving blobs, not faces: the figures show what each plot
shows about a trained model, not results on facial expressions. See docs/visualisation.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from lifting_dfer.checkpoint import model_from_checkpoint, save_checkpoint
from lifting_dfer.cli import main as cli
from lifting_dfer.data import DFEW, DFEW_CLASSES, make_synthetic_dfew, synthetic_clip
from lifting_dfer.loading import checkpoint_geometry
from lifting_dfer.metrics import classification_report
from lifting_dfer.models import create_model
from lifting_dfer.training import main as train
from lifting_dfer.viz import classifier_features, plot_class_radar, plot_confusion_matrix, plot_tsne


def write_video(path: Path, labels: list[int], *, frames_per_clip: int, size: int, fps: int = 8) -> None:
    """Concatenate one synthetic clip per label into an mp4 (the class changes every ``frames_per_clip``)."""
    import av

    generator = torch.Generator().manual_seed(1)
    clips = [synthetic_clip(label, frames_per_clip, size, generator=generator) for label in labels]
    frames = torch.cat(clips).permute(0, 2, 3, 1).numpy()  # (t, h, w, 3) uint8
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height = stream.width = size
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())


def demo_checkpoint(run: Path) -> Path:
    """``best.pt`` of the CPU demo in ``run``: trained now (or continued) unless the run has finished."""
    best = run / "fold1" / "best.pt"
    if not (run / "fold1" / "test_metrics.json").is_file():
        argv = ["--resume", str(run)] if (run / "config.json").is_file() else ["--output-dir", str(run)]
        status = train([*argv, "--no-progress"], dataset="dfew")
        if status:
            raise SystemExit(f"the demo training stopped with status {status}")
    return best


def untrained_checkpoint(path: Path) -> Path:
    """An untrained IFDD-2DCNN with the demo's geometry (8 frames of 64x64)."""
    torch.manual_seed(0)
    kwargs = {"num_classes": 7, "num_frames": 8, "image_size": 64}
    model = create_model("ifdd_2dcnn", **kwargs)
    return save_checkpoint(path, model, arch="ifdd_2dcnn", arch_kwargs=kwargs, class_names=list(DFEW_CLASSES))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a trained checkpoint (default: the CPU demo's, trained if needed)")
    parser.add_argument("--demo-run", default="runs/demo", help="run folder of the demo (default: runs/demo)")
    parser.add_argument("--untrained", action="store_true", help="an untrained IFDD-2DCNN: the format, in seconds")
    parser.add_argument("--out", default="docs/assets", help="output folder (default: docs/assets)")
    parser.add_argument("--clips-per-class", type=int, default=10, help="synthetic clips per class (default 10)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.untrained:
            checkpoint = untrained_checkpoint(tmp / "untrained.pt")
        else:
            checkpoint = Path(args.checkpoint) if args.checkpoint else demo_checkpoint(Path(args.demo_run))
        print(f"model: {checkpoint}")
        model, ckpt = model_from_checkpoint(checkpoint)
        num_frames, size = checkpoint_geometry(ckpt)
        names = ckpt["class_names"]

        # lifting-dfer predict / explain on a video: Happy, then Surprise, then Sad (synthetic blobs, no face).
        # Each class is one clip of 2 T0 frames at 8 fps; --fps 4 keeps every other frame, so a window of T0
        # frames spans one clip, as the uniformly sampled training clips do.
        video = tmp / "sample.mp4"
        write_video(video, [0, 4, 1], frames_per_clip=2 * num_frames, size=size, fps=8)
        common = [
            "--checkpoint",
            str(checkpoint),
            "--output-dir",
            str(tmp),
            "--no-face-detect",
            "--device",
            "cpu",
            "--fps",
            "4",
        ]
        cli(["predict", str(video), *common, "--format", "json", "--stride", "2"])
        cli(["explain", str(video), *common, "--start", "0"])
        shutil.copy(tmp / "sample_timeline.png", out / "timeline.png")
        shutil.copy(tmp / "sample_00000_indices.png", out / "indices.png")
        shutil.copy(tmp / "sample_00000_gradcam.png", out / "gradcam.png")

        # features and predictions on synthetic clips it has not seen (another seed than the demo's data)
        root = make_synthetic_dfew(tmp / "synthetic", clips_per_class=args.clips_per_class, size=size, seed=1)
        clips = [DFEW(root, fold=1, split=split, num_frames=num_frames, size=size) for split in ("train", "test")]
        dataset = torch.utils.data.ConcatDataset(clips)
        labels = torch.tensor([label for part in clips for label in part.labels])
        loader = DataLoader(dataset, batch_size=16)
        features = classifier_features(model, (batch for batch, _ in loader))
        with torch.inference_mode():
            outputs = [model.eval().forward_features(batch) for batch, _ in loader]
        logits = torch.cat([out.logits for out in outputs])
        report = classification_report(labels, logits, class_names=names)
        print(f"{len(labels)} synthetic clips: UAR {100 * report['uar']:.1f} %, WAR {100 * report['war']:.1f} %")
        for group, k in (("I_S", 0), ("I_D", 1)):
            index = torch.cat([out.indices[k] for out in outputs])  # (clips, z) feature-frame positions
            spans = ", ".join(f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(index.min(0).values, index.max(0).values))
            print(f"ISSM {group} over these clips (feature frames, min-max per position): {spans}")
        plot_tsne(features, labels, names, out / "tsne.png", title="t-SNE of the classifier features (synthetic clips)")
        plot_class_radar({f"{ckpt['arch']} on synthetic clips": report["per_class"]}, names, out / "radar.png")
        plot_confusion_matrix(report["confusion"], names, out / "confusion.png")
    for name in ("timeline", "indices", "gradcam", "tsne", "radar", "confusion"):
        print(f"wrote {out / name}.png")


if __name__ == "__main__":
    main()
