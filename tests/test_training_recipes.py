"""The training recipes (``--recipe authors``) and multi-clip testing (``--test-clips``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from lifting_dfer.checkpoint import load_checkpoint
from lifting_dfer.data import ClipDataset
from lifting_dfer.normalization import IMAGENET, UNIT, checkpoint_normalization
from lifting_dfer.training import TrainConfig, config_from_args, evaluate, fit, main, training_loss
from lifting_dfer.training.history import read_jsonl
from lifting_dfer.training.recipes import (
    RECIPES,
    AuthorsAugment,
    AuthorsSchedule,
    ClipMixup,
    authors_lr,
    clip_transform,
)
from lifting_dfer.training.runner import build_datasets

TINY = ["--epochs", "1", "--warmup-epochs", "0", "--num-frames", "4", "--size", "32", "--batch-size", "4",
        "--synthetic-clips-per-class", "5", "--no-progress", "--device", "cpu", "--num-workers", "0"]  # fmt: skip


# ------------------------------------------------------------------------------------------------ the preset
def test_authors_recipe_sets_its_values_and_explicit_options_win():
    cfg, _ = config_from_args(["--data-root", "/data/DFEW", "--recipe", "authors"])
    for key, value in RECIPES["authors"].items():
        assert getattr(cfg, key) == value, key
    assert (cfg.lr, cfg.weight_decay, cfg.epochs, cfg.warmup_epochs, cfg.batch_size) == (1e-4, 1e-3, 100, 10, 16)
    cfg, _ = config_from_args(["--data-root", "/d", "--recipe", "authors", "--mixup", "0", "--val-fraction", "0.2",
                               "--select-metric", "uar", "--test-clips", "3"])  # fmt: skip
    assert (cfg.mixup, cfg.cutmix, cfg.val_fraction, cfg.select_metric, cfg.test_clips) == (0.0, 1.0, 0.2, "uar", 3)
    paper, _ = config_from_args(["--data-root", "/d"])
    assert (paper.augment, paper.mixup, paper.schedule, paper.lift_reduction) == ("crop_flip", 0.0, "warmup_cosine",
                                                                                  "mean")  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"recipe": "timm"}, "recipe: expected one of paper, authors"),
        ({"augment": "randaug"}, "augment"),
        ({"mixup": -1.0}, "mixup"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"test_clips": 0}, "test_clips"),
        ({"select_metric": "loss"}, "train_loss"),
    ],
)
def test_config_rejects_bad_recipe_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)


# ------------------------------------------------------------------------------------------------ mixup
def test_clip_mixup_is_timms_mixup_on_every_frame_with_one_box():
    torch.manual_seed(0)
    clips, labels = torch.rand(4, 3, 5, 16, 16), torch.tensor([0, 1, 2, 1])
    mixer = ClipMixup(3, mixup=0.8, cutmix=1.0, label_smoothing=0.1)
    from timm.data import Mixup

    for seed in range(6):  # both branches (mixup and CutMix) are drawn
        np.random.seed(seed)
        mixed, targets = mixer(clips, labels)
        for t in range(5):  # timm on each frame alone, with the same draws, gives the same frame
            np.random.seed(seed)
            reference = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=3)
            frame, frame_targets = reference(clips[:, :, t].clone(), labels)
            torch.testing.assert_close(mixed[:, :, t], frame)
            torch.testing.assert_close(targets, frame_targets)
        torch.testing.assert_close(targets.sum(1), torch.ones(4))
    assert torch.equal(clips, clips.clone())  # the input is not mixed in place
    with pytest.raises(ValueError, match="even batch"):
        mixer(clips[:3], labels[:3])


def test_soft_targets_give_the_soft_target_cross_entropy():
    logits, targets = torch.randn(4, 3), torch.softmax(torch.randn(4, 3), -1)
    loss, *_ = training_loss(logits, targets, None)
    torch.testing.assert_close(loss, (-targets * F.log_softmax(logits, -1)).sum(-1).mean())
    hard = torch.tensor([0, 2, 1, 1])
    smoothed, *_ = training_loss(logits, hard, None, label_smoothing=0.1)
    soft = torch.full((4, 3), 0.1 / 3).scatter(1, hard[:, None], 1 - 0.1 + 0.1 / 3)
    torch.testing.assert_close(smoothed, (-soft * F.log_softmax(logits, -1)).sum(-1).mean())


# ------------------------------------------------------------------------------------------------ augmentation
def test_authors_augment_draws_once_per_clip_and_replays_with_a_generator():
    frame = torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8)
    frames = frame.expand(6, 3, 40, 48).contiguous()  # a still clip: every output frame must be equal
    augment = AuthorsAugment(32, train=True)
    outs = [augment(frames, torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert outs[0].shape == (3, 6, 32, 32) and outs[0].dtype == torch.float32
    assert torch.equal(outs[0], outs[1]) and not torch.equal(outs[0], outs[2])
    assert all(torch.equal(outs[0][:, 0], outs[0][:, t]) for t in range(6))
    assert outs[0].min() >= 0 and outs[0].max() <= 1


def test_authors_test_transform_scales_to_unit_and_normalises_for_other_models():
    frames = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    unit = AuthorsAugment(32, train=False)(frames)
    torch.testing.assert_close(unit, frames.permute(1, 0, 2, 3).float() / 255)
    imagenet = AuthorsAugment(32, train=False, normalization=IMAGENET)(frames)
    mean, std = torch.tensor(IMAGENET.mean).view(3, 1, 1, 1), torch.tensor(IMAGENET.std).view(3, 1, 1, 1)
    torch.testing.assert_close(imagenet, (unit - mean) / std)


def test_clip_transform_follows_the_augment_setting_and_the_normalization():
    assert isinstance(clip_transform(TrainConfig(augment="authors", size=32), train=True, normalization=UNIT),
                      AuthorsAugment)  # fmt: skip
    frames = torch.full((2, 3, 32, 32), 255, dtype=torch.uint8)
    floats = clip_transform(TrainConfig(size=32, data_output="float"), train=False, normalization=UNIT)
    torch.testing.assert_close(floats(frames), torch.ones(3, 2, 32, 32))  # scaled, in the model's normalisation
    raw = clip_transform(TrainConfig(size=32, augment="authors"), train=False, normalization=UNIT)  # uint8 items
    assert torch.equal(raw(frames), frames.permute(1, 0, 2, 3))  # normalised later, on the device


# ------------------------------------------------------------------------------------------------ schedule
def test_authors_schedule_is_constant_within_an_epoch_and_follows_authors_lr():
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = AuthorsSchedule(opt, steps_per_epoch=3, lr=1e-4, batch_size=16, epochs=100, warmup_epochs=10)
    rates = []
    for _ in range(3 * 12):
        rates.append(opt.param_groups[0]["lr"])
        sched.step()
    expected = [authors_lr(s // 3, lr=1e-4, batch_size=16, epochs=100, warmup_epochs=10) for s in range(36)]
    assert rates == expected
    assert rates[27] > rates[30] == pytest.approx(5e-5)  # the drop when the cosine takes over (epoch 10)
    again = AuthorsSchedule(opt, steps_per_epoch=3, lr=1e-4, batch_size=16, epochs=100, warmup_epochs=10)
    again.load_state_dict(sched.state_dict())
    assert again.last_step == 36 and again.get_last_lr() == sched.get_last_lr()


def test_authors_lr_reads_like_their_formula():
    def cosine(e, offset, top, bottom, epochs=100):
        return bottom + (top - bottom) * (math.cos(math.pi * (e - offset) / (epochs - offset)) + 1) / 2

    warm_target = cosine(10, 1.0, 1e-4, 1e-6)
    for epoch in range(100):
        lr = authors_lr(epoch, lr=1e-4, batch_size=16, epochs=100, warmup_epochs=10)
        want = 1e-6 + epoch * (warm_target - 1e-6) / 10 if epoch < 10 else cosine(epoch, 10, 5e-5, 5e-7)
        assert lr == pytest.approx(want, rel=1e-12), epoch


# ------------------------------------------------------------------------------------------------ fit and evaluate
class Clips(Dataset):
    class_names = ("a", "b")

    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.labels = [i % 2 for i in range(n)]
        self.clips = [torch.randn(3, 4, 6, 6, generator=g) + (2 * y - 1) for y in self.labels]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.clips[i], self.labels[i]


def test_fit_keeps_the_epoch_of_lowest_training_loss(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 6 * 6, 2))
    cfg = TrainConfig(epochs=4, warmup_epochs=0, batch_size=4, lr=0.5, num_workers=0, device="cpu", progress=False,
                      select_metric="train_loss", val_fraction=0.0, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                      schedule="authors", lift_reduction="batch_sum")  # fmt: skip
    result = fit(model, Clips(12), None, cfg=cfg, folder=tmp_path, arch="toy", arch_kwargs={"num_classes": 2},
                 class_names=["a", "b"])  # fmt: skip
    losses = [r["train_loss"] for r in result.history]
    assert result.best_epoch == 1 + losses.index(min(losses))
    assert load_checkpoint(result.best_path)["epoch"] == result.best_epoch
    assert result.history[-1]["best_train_loss"] == pytest.approx(min(losses))
    rates = [r["lr"] for r in read_jsonl(tmp_path / "metrics.jsonl")]  # logged after each epoch's last step
    assert rates == pytest.approx(
        [authors_lr(e, lr=0.5, batch_size=4, epochs=4, warmup_epochs=0) for e in (1, 2, 3, 4)]
    )


class Offsets(ClipDataset):
    """A ClipDataset whose clip is its segment offset, so that a view's logits show which offset it read."""

    def __init__(self) -> None:
        super().__init__(["x", "y"], [0, 1], ["a", "b"], num_frames=2, size=2)

    def __getitem__(self, index: int):
        return torch.full((1,), self.offset + index), self.labels[index]


def test_test_clips_average_the_logits_of_views_at_evenly_spread_offsets():
    model = nn.Sequential(nn.Linear(1, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
    data = Offsets()
    one = evaluate(model, data, class_names=["a", "b"], device=torch.device("cpu"), views=1)
    three = evaluate(model, data, class_names=["a", "b"], device=torch.device("cpu"), views=3)
    torch.testing.assert_close(one.logits[:, 0], torch.tensor([0.5, 1.5]))
    mean_offset = (1 / 6 + 3 / 6 + 5 / 6) / 3  # the views' offsets
    torch.testing.assert_close(three.logits[:, 0], torch.tensor([mean_offset, 1 + mean_offset]))
    assert data.offset == 0.5  # the dataset itself is left as it was
    with pytest.raises(ValueError, match="no temporal offset"):
        evaluate(model, Clips(2), class_names=["a", "b"], device=torch.device("cpu"), views=2)


# ------------------------------------------------------------------------------------------------ end to end
def test_authors_recipe_trains_records_and_tests_end_to_end(tmp_path):
    run = tmp_path / "run"
    argv = [*TINY, "--recipe", "authors", "--model", "ifdd_2dcnn", "--test-clips", "2",
            "--synthetic-root", str(tmp_path / "data"), "--output-dir", str(run)]  # fmt: skip
    assert main(argv, dataset="dfew") == 0
    ckpt = load_checkpoint(run / "fold1" / "best.pt")
    assert ckpt["config"]["recipe"] == "authors" and ckpt["config"]["test_clips"] == 2
    assert checkpoint_normalization(ckpt) == IMAGENET  # the model's normalisation, not the recipe's
    records = read_jsonl(run / "fold1" / "metrics.jsonl")
    assert records[0]["val_uar"] is None and records[0]["best_train_loss"] == pytest.approx(records[0]["train_loss"])
    cfg = TrainConfig.from_dict(ckpt["config"])
    train, val, test = build_datasets(cfg, 1, tmp_path / "data")
    assert val is None and isinstance(train.transform, AuthorsAugment) and not test.transform.train
