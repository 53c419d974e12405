"""Synthetic DFEW: exact DFEW layout, stratified folds, determinism, and class-dependent (learnable) dynamics."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F

from lifting_dfer.data import DFEW, DFEW_CLASSES, make_synthetic_dfew, read_dfew_split, synthetic_clip, uniform_indices

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")

SMALL = {"clips_per_class": 5, "num_frames": (4, 7), "size": 16}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synthetic_dfew(tmp_path_factory.mktemp("synth"), **SMALL)


def tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_layout_is_dfew(synth):
    clips = sorted((synth / "Clip" / "clip_224x224").iterdir())
    assert [c.name for c in clips] == [f"{i:05d}" for i in range(1, 36)]
    frames = sorted(clips[0].iterdir())
    assert frames[0].name == "00001_00001.jpg"
    assert 4 <= len(frames) <= 7
    for split in ("train", "test"):
        for fold in range(1, 6):
            path = synth / "EmoLabel_DataSplit" / f"{split}(single-labeled)" / f"set_{fold}.csv"
            assert path.read_text().splitlines()[0] == "video_name,label"


def test_every_clip_is_tested_in_exactly_one_fold_stratified(synth):
    split_dir = synth / "EmoLabel_DataSplit"
    seen = []
    for fold in range(1, 6):
        test = read_dfew_split(split_dir / "test(single-labeled)" / f"set_{fold}.csv")
        train = read_dfew_split(split_dir / "train(single-labeled)" / f"set_{fold}.csv")
        assert sorted(r.label for r in test) == list(range(7)), "one clip per class per test fold"
        assert not {r.clip for r in test} & {r.clip for r in train}
        assert len(test) + len(train) == 35
        seen += [r.clip for r in test]
    assert sorted(seen) == [f"{i:05d}" for i in range(1, 36)]


def test_dfew_reader_loads_every_fold(synth):
    for fold in range(1, 6):
        train = DFEW(synth, fold=fold, split="train", num_frames=4, size=8)
        test = DFEW(synth, fold=fold, split="test", num_frames=4, size=8)
        assert len(train) == 28 and len(test) == 7
        assert train.class_counts() == [4] * 7
    clip, label = test[0]
    assert clip.shape == (3, 4, 8, 8) and 0 <= label < 7


def test_same_seed_same_files_other_seed_other_files(synth, tmp_path):
    again = make_synthetic_dfew(tmp_path / "a", **SMALL)
    other = make_synthetic_dfew(tmp_path / "b", **SMALL, seed=1)
    assert tree_digest(again) == tree_digest(synth)
    assert tree_digest(other) != tree_digest(synth)


def test_existing_dataset_is_reused_or_protected(tmp_path):
    root = make_synthetic_dfew(tmp_path / "s", **SMALL)
    frame = root / "Clip" / "clip_224x224" / "00001" / "00001_00001.jpg"
    stamp = frame.stat().st_mtime_ns
    make_synthetic_dfew(root, **SMALL)
    assert frame.stat().st_mtime_ns == stamp, "same settings: nothing rewritten"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_synthetic_dfew(root, **{**SMALL, "size": 12})
    make_synthetic_dfew(root, **{**SMALL, "size": 12}, overwrite=True)
    assert DFEW(root, split="test", size=12, transform=lambda f, g: f)[0][0].shape[-1] == 12


def test_interrupted_write_is_redone(tmp_path, synth):
    root = make_synthetic_dfew(tmp_path / "s", **SMALL)
    marker = root / "synthetic_dfew.json"
    marker.write_text(marker.read_text().replace("}", ', "complete": false}'))
    for frame in (root / "Clip" / "clip_224x224" / "00003").iterdir():
        frame.unlink()  # as if killed while writing
    make_synthetic_dfew(root, **SMALL)
    assert tree_digest(root) == tree_digest(synth)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="num_folds"):
        make_synthetic_dfew(tmp_path, clips_per_class=3)
    with pytest.raises(ValueError, match="num_frames"):
        make_synthetic_dfew(tmp_path, num_frames=(8, 4))
    with pytest.raises(ValueError, match="label"):
        synthetic_clip(7, 8, 8, generator=torch.Generator())


def blob_stats(clip):
    """Per-frame blob mass, centroid (y, x) and area above half its peak, ignoring the noisy background."""
    x = clip.float().mean(1)  # (t, h, w)
    x = x - x.flatten(1).median(1).values.view(-1, 1, 1)
    peak = x.flatten(1).max(1).values.view(-1, 1, 1)
    w = torch.where(x > 0.25 * peak, x, torch.zeros_like(x))
    coords = torch.arange(x.shape[-1], dtype=torch.float32)
    mass = w.sum((1, 2))
    cy = (w.sum(2) * coords).sum(1) / mass
    cx = (w.sum(1) * coords).sum(1) / mass
    area = (x > 0.5 * peak).float().sum((1, 2))
    return x.clamp_min(0).sum((1, 2)), cy, cx, area.sqrt()


@pytest.mark.parametrize("seed", range(3))
def test_each_class_has_its_documented_dynamics(seed):
    g = torch.Generator().manual_seed(seed)
    stats = {name: blob_stats(synthetic_clip(k, 16, 48, generator=g)) for k, name in enumerate(DFEW_CLASSES)}

    def change(v):
        return float(v[-3:].mean() - v[:3].mean())

    assert change(stats["Happy"][1]) < -10  # rises: centroid y decreases (pixels)
    assert change(stats["Sad"][1]) > 10
    assert change(stats["Fear"][0]) > 2 * abs(change(stats["Neutral"][0]))  # brightens
    assert change(stats["Surprise"][3]) > 3 and change(stats["Angry"][3]) < -3  # grows / shrinks
    shake = stats["Disgust"][2] - stats["Disgust"][2].mean()
    assert int((shake[1:].sign() != shake[:-1].sign()).sum()) >= 3  # left-right oscillation
    for k in range(4):
        assert abs(change(stats["Neutral"][k])) < 0.35 * max(abs(change(stats[n][k])) for n in DFEW_CLASSES)


def test_classes_are_learnable_from_the_frames():
    """A nearest-class-mean classifier on 8 uniformly sampled 8x8 frames beats chance (1/7) by far."""
    g = torch.Generator().manual_seed(0)

    def make(per_class):
        xs, ys = [], []
        for y in range(7):
            for _ in range(per_class):
                t = int(torch.randint(8, 17, (1,), generator=g))
                clip = synthetic_clip(y, t, 16, generator=g)[uniform_indices(t, 8)].float() / 255
                xs.append(F.avg_pool2d(clip, 2).flatten())
                ys.append(y)
        return torch.stack(xs), torch.tensor(ys)

    x_train, y_train = make(10)
    x_test, y_test = make(6)
    means = torch.stack([x_train[y_train == k].mean(0) for k in range(7)])
    accuracy = (torch.cdist(x_test, means).argmin(1) == y_test).float().mean()
    assert accuracy > 0.6
