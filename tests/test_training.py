"""Training engine on a tiny model and in-memory clips: schedule, loss, resume equivalence, interruption, errors."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchvision.io import encode_jpeg, write_file

from lifting_dfer.checkpoint import load_checkpoint
from lifting_dfer.data import ClipDataset
from lifting_dfer.ifdd import IFDDOutput
from lifting_dfer.loss import LiftLoss
from lifting_dfer.metrics import uar, war
from lifting_dfer.normalization import IMAGENET, UNIT
from lifting_dfer.training import (
    EpochStats,
    GracefulInterrupt,
    MetricWriter,
    TrainConfig,
    WarmupCosine,
    evaluate,
    fit,
    summarize_folds,
    train_one_epoch,
    training_loss,
    warmup_cosine_lr,
)
from lifting_dfer.training.distributed import ShardSampler, gather_predictions
from lifting_dfer.training.history import read_jsonl
from lifting_dfer.training.loaders import EpochLoader, shard_loader

CLASSES = ("up", "down", "still")


class ToyClips(Dataset):
    """Clips (3, 4, 6, 6) whose class is a temporal ramp; per-clip noise and flips drawn from (seed, epoch, index)."""

    class_names = CLASSES

    def __init__(self, n: int, *, train: bool, seed: int = 0, data_seed: int = 0) -> None:
        g = torch.Generator().manual_seed(data_seed)
        self.labels = [i % 3 for i in range(n)]
        ramp = torch.linspace(-1, 1, 4).view(1, 4, 1, 1)
        slope = torch.tensor([1.0, -1.0, 0.0])
        self.clips = [slope[y] * ramp + 0.5 * torch.randn(3, 4, 6, 6, generator=g) for y in self.labels]
        self.train, self.seed, self.epoch = train, seed, 0
        self.hook = None  # called as hook(epoch, index) on every item (tests inject interruptions here)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if self.hook is not None:
            self.hook(self.epoch, i)
        clip = self.clips[i]
        if self.train:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch * 1009 + i)
            clip = clip + 0.2 * torch.randn(clip.shape, generator=g)
            if torch.rand((), generator=g) < 0.5:
                clip = clip.flip(-1)
        return clip, self.labels[i]


class ToyLifting(nn.Module):
    """Conv3d + BN + dropout classifier returning an IFDDOutput in training mode (exercises CE + LiftLoss)."""

    def __init__(self, num_classes: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, dim, 3, padding=1)
        self.norm = nn.BatchNorm3d(dim)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, clip):
        x = F.relu(self.norm(self.conv(clip)))
        y_s = x[:, :, 0::2] * 0.9
        features = x.mean((2, 3, 4))
        logits = self.fc(self.drop(features))
        if self.training:
            return IFDDOutput(logits, features, y_s, x, (None, None))
        return logits


def toy_config(**overrides) -> TrainConfig:
    settings = {
        "epochs": 4,
        "warmup_epochs": 1,
        "batch_size": 4,
        "lr": 2e-2,
        "warmup_lr": 1e-3,
        "min_lr": 1e-4,
        "num_workers": 0,
        "device": "cpu",
        "progress": False,
        "seed": 3,
    }
    return TrainConfig(**{**settings, **overrides})


def toy_fit(folder, cfg=None, *, resume=False, hook=None, interrupt=None):
    torch.manual_seed(11)
    model = ToyLifting()
    train, val = ToyClips(24, train=True, seed=3), ToyClips(9, train=False, data_seed=1)
    train.hook = hook
    result = fit(
        model,
        train,
        val,
        cfg=cfg or toy_config(),
        folder=folder,
        arch="toy",
        arch_kwargs={"num_classes": 3},
        class_names=CLASSES,
        resume=resume,
        interrupt=interrupt,
    )
    return model, result


def without_time(records):
    return [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in records]


def assert_same_weights(a: nn.Module, b: nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


# ---------------------------------------------------------------------------------------------------- schedule


def hand_lr(step, base, total, warm, start, low):
    if step < warm:
        return start + (base - start) * step / warm
    return low + 0.5 * (base - low) * (1 + math.cos(math.pi * (step - warm) / (total - warm)))


def test_schedule_warms_up_from_1e6_then_follows_the_cosine():
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1e-4)
    sched = WarmupCosine(opt, total_steps=100, warmup_steps=10, warmup_lr=1e-6, min_lr=0.0)
    seen = []
    for _ in range(100):
        seen.append(opt.param_groups[0]["lr"])
        sched.step()
    expected = [hand_lr(s, 1e-4, 100, 10, 1e-6, 0.0) for s in range(100)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-18)
    assert seen[0] == 1e-6 and seen[10] == pytest.approx(1e-4)
    assert seen[5] == pytest.approx(1e-6 + 0.5 * (1e-4 - 1e-6))
    assert seen[55] == pytest.approx(0.5e-4)  # half-way through the cosine
    assert all(a > b for a, b in itertools.pairwise(seen[10:]))  # strictly decreasing after warm-up
    assert opt.param_groups[0]["lr"] == 0.0  # step 100 = end of the schedule: min_lr


def test_schedule_per_group_base_rates_and_state_round_trip():
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD([{"params": [params[0]], "lr": 1.0}, {"params": [params[1]], "lr": 0.1}])
    sched = WarmupCosine(opt, total_steps=20, warmup_steps=4, warmup_lr=0.0, min_lr=0.01)
    for _ in range(7):
        sched.step()
    assert sched.get_last_lr() == pytest.approx([hand_lr(7, 1.0, 20, 4, 0.0, 0.01), hand_lr(7, 0.1, 20, 4, 0.0, 0.01)])
    opt2 = torch.optim.SGD([{"params": [params[0]], "lr": 1.0}, {"params": [params[1]], "lr": 0.1}])
    sched2 = WarmupCosine(opt2, total_steps=20, warmup_steps=4, warmup_lr=0.0, min_lr=0.01)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ValueError, match="warmup"):
        warmup_cosine_lr(0, base_lr=1.0, total_steps=5, warmup_steps=6)


# -------------------------------------------------------------------------------------------------------- loss


def test_training_loss_adds_liftloss_for_ifdd_outputs_only():
    torch.manual_seed(0)
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    x = torch.randn(4, 5, 6, 2, 2)
    y_s = torch.randn(4, 5, 3, 2, 2)
    out = IFDDOutput(logits, torch.randn(4, 5), y_s, x, (None, None))
    loss, got_logits, ce, lift = training_loss(out, labels, LiftLoss(weight=0.1))
    # reference of Eqs. 8-9: mean over (t, c) of Y_S - AvgPool_t2(X), Huber(delta=1) to 0, mean, x0.1
    r = (y_s - 0.5 * (x[:, :, 0::2] + x[:, :, 1::2])).mean(dim=(1, 2))
    huber = torch.where(r.abs() <= 1, 0.5 * r**2, r.abs() - 0.5).mean()
    assert ce.item() == pytest.approx(F.cross_entropy(logits, labels).item())
    assert lift.item() == pytest.approx(0.1 * huber.item(), rel=1e-5)
    assert loss.item() == pytest.approx(ce.item() + lift.item())
    loss_plain, _, _, lift_plain = training_loss(logits, labels, LiftLoss())
    assert lift_plain.item() == 0.0 and loss_plain.item() == pytest.approx(ce.item())
    assert torch.equal(got_logits, logits)
    with pytest.raises(ValueError, match=r"expected logits of shape \(b, k\)"):
        training_loss(torch.randn(4), labels, None)


# ------------------------------------------------------------------------------------------------- evaluation


def test_evaluate_reports_uar_war_of_the_models_predictions():
    torch.manual_seed(0)
    model = ToyLifting().eval()
    data = ToyClips(10, train=False)
    result = evaluate(model, data, class_names=CLASSES, device=torch.device("cpu"), batch_size=3)
    with torch.no_grad():
        logits = torch.cat([model(torch.stack([data[i][0]])) for i in range(len(data))])
    labels = torch.tensor(data.labels)
    assert torch.allclose(result.logits, logits, atol=1e-6)
    assert torch.equal(result.labels, labels)
    assert result.report["uar"] == pytest.approx(uar(labels, logits, 3))
    assert result.report["war"] == pytest.approx(war(labels, logits))
    assert result.report["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert model.training is False


def test_shards_cover_every_clip_once_and_gathering_restores_order():
    shards = [list(ShardSampler(10, rank=r, world_size=3)) for r in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(10))
    # a padded sampler repeats index 0: gathering keeps it once and sorts by index
    idx = torch.tensor([4, 0, 2, 0])
    logits = torch.tensor([[4.0], [0.0], [2.0], [0.0]])
    out_logits, out_labels = gather_predictions(idx, logits, idx.clone())
    assert out_labels.tolist() == [0, 2, 4] and out_logits.squeeze(1).tolist() == [0.0, 2.0, 4.0]


# --------------------------------------------------------------------------------------------- fit and resume


def test_fit_learns_logs_every_epoch_and_keeps_the_best_checkpoint(tmp_path):
    model, result = toy_fit(tmp_path / "run")
    records = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert without_time(records) == without_time(result.history)
    csv_lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,lr,train_loss,train_ce,train_lift,train_acc,val_loss,val_uar,val_war")
    assert len(csv_lines) == 5
    assert all(r["train_lift"] > 0 for r in records)  # LiftLoss is part of the objective
    assert all(r["train_loss"] == pytest.approx(r["train_ce"] + r["train_lift"]) for r in records)
    assert all(r["train_acc"] in {i / 24 for i in range(25)} for r in records)  # 24 clips per epoch
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    best = max(records, key=lambda r: r["val_uar"])  # first epoch reaching the best UAR
    assert result.best_epoch == best["epoch"] == records[-1]["best_epoch"]
    best_ckpt, last_ckpt = load_checkpoint(result.best_path), load_checkpoint(result.last_path)
    assert best_ckpt["epoch"] == best["epoch"] and best_ckpt["val"]["uar"] == best["val_uar"]
    assert last_ckpt["epoch"] == 4 and last_ckpt["partial"] is None
    assert last_ckpt["config"]["lr"] == 2e-2 and len(last_ckpt["rng"]) == 1
    # the last learning rate is the schedule's value after 4 epochs x 6 steps
    assert records[-1]["lr"] == pytest.approx(
        warmup_cosine_lr(24, base_lr=2e-2, total_steps=24, warmup_steps=6, warmup_lr=1e-3, min_lr=1e-4)
    )
    assert_same_weights(model, _loaded(last_ckpt))


def _loaded(ckpt):
    model = ToyLifting()
    model.load_state_dict(ckpt["state_dict"])
    return model


class Crash(RuntimeError):
    pass


def test_resume_after_a_crash_matches_the_uninterrupted_run_exactly(tmp_path):
    reference, ref_result = toy_fit(tmp_path / "a")

    def crash_in_epoch_3(epoch, index):
        if epoch == 2:
            raise Crash("killed")

    with pytest.raises(Crash):
        toy_fit(tmp_path / "b", hook=crash_in_epoch_3)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 2
    assert len(read_jsonl(tmp_path / "b" / "metrics.jsonl")) == 2  # what was written survived the crash
    resumed, result = toy_fit(tmp_path / "b", resume=True)
    assert_same_weights(reference, resumed)
    assert without_time(result.history) == without_time(ref_result.history)
    assert without_time(read_jsonl(tmp_path / "b" / "metrics.jsonl")) == without_time(ref_result.history)
    assert result.best_epoch == ref_result.best_epoch
    assert_same_weights(_loaded(load_checkpoint(result.best_path)), _loaded(load_checkpoint(ref_result.best_path)))


def test_ctrl_c_mid_epoch_saves_a_checkpoint_that_resumes_exactly(tmp_path):
    reference, ref_result = toy_fit(tmp_path / "a")
    calls = []

    def ctrl_c_in_epoch_2(epoch, index):
        calls.append(epoch)
        if epoch == 1 and calls.count(1) == 9:  # third batch of epoch 2
            signal.raise_signal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN under `nohup ... &`
    with pytest.raises(KeyboardInterrupt):
        toy_fit(tmp_path / "b", hook=ctrl_c_in_epoch_2)
    ckpt = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ckpt["epoch"] == 1 and ckpt["partial"]["epoch"] == 1 and ckpt["partial"]["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    resumed, result = toy_fit(tmp_path / "b", resume=True)
    assert_same_weights(reference, resumed)
    assert without_time(result.history) == without_time(ref_result.history)


def test_interrupt_flag_stops_at_a_step_boundary(tmp_path):
    interrupt = GracefulInterrupt()

    def request(epoch, index):
        if epoch == 0 and index is not None:
            interrupt.requested = True

    with pytest.raises(KeyboardInterrupt):
        toy_fit(tmp_path / "r", hook=request, interrupt=interrupt)
    partial = load_checkpoint(tmp_path / "r" / "last.pt")["partial"]
    assert partial["step"] == 1 and partial["count"] == 4  # the batch in progress was finished, nothing more


def test_existing_run_missing_and_mismatching_checkpoints_are_refused(tmp_path):
    toy_fit(tmp_path / "run", toy_config(epochs=1, warmup_epochs=0))
    with pytest.raises(FileExistsError, match="already holds a run"):
        toy_fit(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="cannot resume"):
        toy_fit(tmp_path / "empty", resume=True)
    train, val = ToyClips(8, train=True), ToyClips(3, train=False)
    with pytest.raises(ValueError, match="holds model 'toy', expected 'other'"):
        fit(
            ToyLifting(),
            train,
            val,
            cfg=toy_config(epochs=2),
            folder=tmp_path / "run",
            arch="other",
            arch_kwargs={"num_classes": 3},
            class_names=CLASSES,
            resume=True,
        )
    with pytest.raises(ValueError, match="has 3 classes"):
        fit(
            ToyLifting(num_classes=4),
            train,
            val,
            cfg=toy_config(epochs=2),
            folder=tmp_path / "run",
            arch="toy",
            arch_kwargs={"num_classes": 4},
            class_names=(*CLASSES, "x"),
            resume=True,
        )
    (tmp_path / "run" / "last.pt").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        toy_fit(tmp_path / "run", resume=True)


# --------------------------------------------------------------------------------------------------- outputs


def test_metric_writer_appends_flushes_and_rewrites(tmp_path):
    writer = MetricWriter(tmp_path)
    writer.log({"epoch": 1, "uar": 0.5})
    writer.log({"epoch": 2, "uar": 0.75})
    with open(writer.jsonl_path, "a") as f:
        f.write('{"epoch": 3, "ua')  # torn line of a crash mid-write
    assert [r["epoch"] for r in read_jsonl(writer.jsonl_path)] == [1, 2]
    with pytest.raises(ValueError, match="differ from the CSV columns"):
        writer.log({"epoch": 3, "war": 0.1})
    writer.rewrite([{"epoch": 1, "uar": 0.5}])
    assert read_jsonl(writer.jsonl_path) == [{"epoch": 1, "uar": 0.5}]
    assert writer.csv_path.read_text().splitlines() == ["epoch,uar", "1,0.5"]


def test_fold_summary_has_each_fold_mean_and_std():
    rows = [
        {"fold": f, "best_epoch": f, "val_uar": 0.1 * f, "test_uar": 0.1 * f + 0.05, "test_war": 0.2 * f}
        for f in range(1, 6)
    ]
    summary = summarize_folds(rows)
    tests = torch.tensor([r["test_uar"] for r in rows], dtype=torch.float64)
    assert summary["mean"]["test_uar"] == pytest.approx(tests.mean().item())
    assert summary["std"]["test_uar"] == pytest.approx(tests.std().item())  # sample std over folds
    lines = summary["markdown"].splitlines()
    assert len(lines) == 2 + 5 + 2
    assert lines[-2] == "| mean | | 30.00 | 35.00 | 60.00 |"


def test_epoch_stats_means_and_round_trip():
    stats = EpochStats(epoch=2)
    stats.update(loss=1.0, ce=0.8, lift=0.2, correct=3, count=4)
    stats.update(loss=2.0, ce=1.8, lift=0.2, correct=0, count=2)
    assert stats.summary() == pytest.approx({"loss": 8 / 6, "ce": 6.8 / 6, "lift": 0.2, "acc": 0.5})
    assert EpochStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats


# ------------------------------------------------------------------------------------------ torchrun-like world


def _ddp_worker(rank: int, world: int, folder: str, port: int, queue) -> None:
    import os

    from lifting_dfer.training.distributed import cleanup_distributed, setup_distributed

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    ctx = setup_distributed("cpu")
    try:
        torch.manual_seed(11)
        model = ToyLifting()
        train, val = ToyClips(24, train=True, seed=3), ToyClips(9, train=False, data_seed=1)
        result = fit(
            model,
            train,
            val,
            cfg=toy_config(epochs=2),
            folder=folder,
            arch="toy",
            arch_kwargs={"num_classes": 3},
            class_names=CLASSES,
            ctx=ctx,
        )
        queue.put((rank, {k: v.tolist() for k, v in model.state_dict().items()}, result.history))
    finally:
        cleanup_distributed()


def test_two_process_gloo_world_trains_in_sync_and_evaluates_every_clip_once(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = mp.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=_ddp_worker, args=(r, 2, str(tmp_path / "ddp"), port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = {rank: (state, history) for rank, state, history in (queue.get(timeout=120) for _ in procs)}
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    (state0, history0), (state1, history1) = results[0], results[1]
    assert state0 == state1  # DDP kept the replicas identical
    assert without_time(history0) == without_time(history1)
    assert [r["epoch"] for r in read_jsonl(tmp_path / "ddp" / "metrics.jsonl")] == [1, 2]  # rank 0 logged once
    ckpt = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert len(ckpt["rng"]) == 2 and ckpt["world_size"] == 2
    model = ToyLifting()
    model.load_state_dict({k: torch.tensor(v, dtype=model.state_dict()[k].dtype) for k, v in state0.items()})
    single = evaluate(
        model, ToyClips(9, train=False, data_seed=1), class_names=CLASSES, device=torch.device("cpu"), batch_size=4
    ).report
    assert history0[-1]["val_uar"] == pytest.approx(single["uar"])
    assert history0[-1]["val_loss"] == pytest.approx(single["loss"], rel=1e-5)
    # 24 clips over 2 ranks in batches of 4: 3 steps per epoch, so the schedule ran 6 steps
    assert ckpt["scheduler"]["last_step"] == 6


# ------------------------------------------------------------------------------------------ uint8 input, loaders


class EpochProbe(Dataset):
    """Items ``([epoch, index, pid], index % 3)``: which epoch's draws and which process produced them."""

    def __init__(self, n: int) -> None:
        self.n, self.epoch = n, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return torch.tensor([self.epoch, i, os.getpid()]), i % 3


@pytest.mark.parametrize("workers", [0, 2])
def test_epoch_loader_gives_each_epoch_its_draws_in_the_same_workers(workers):
    batches = EpochLoader(EpochProbe(10), batch_size=4, num_workers=workers, device=torch.device("cpu"), seed=0)
    seen = []
    for epoch, order in ((0, [3, 1, 4, 0, 9]), (1, [2, 7]), (2, list(range(10)))):
        items = torch.cat([clips for clips, _ in batches.epoch(epoch, order)])
        assert items[:, 0].tolist() == [epoch] * len(order) and items[:, 1].tolist() == order
        seen.append(set(items[:, 2].tolist()))
    pids = set.union(*seen)
    assert (pids == {os.getpid()}) if workers == 0 else (len(pids) == workers and os.getpid() not in pids)


def jpeg_clips_dataset(root, *, train: bool, output: str, n: int = 12) -> ClipDataset:
    """Clips of 5 JPEG frames (18x22) whose class is a brightness ramp over time."""
    folders = []
    for i in range(n):
        g = torch.Generator().manual_seed(i)
        y = i % 3
        ramp = torch.linspace(-60, 60, 5) * (1.0, -1.0, 0.0)[y]
        folder = root / f"{i:03d}"
        if not folder.is_dir():
            folder.mkdir(parents=True)
            base = torch.rand(1, 3, 6, 7, generator=g) * 100 + 70
            base = F.interpolate(base, size=(18, 22), mode="bilinear", align_corners=False)
            for k in range(5):
                frame = (base[0] + ramp[k]).clamp(0, 255).round().to(torch.uint8)
                write_file(str(folder / f"{k + 1}.jpg"), encode_jpeg(frame, quality=95))
        folders.append(folder)
    return ClipDataset(folders, [i % 3 for i in range(n)], CLASSES, num_frames=4, size=8, train=train, seed=3,
                       output=output)  # fmt: skip


def test_uint8_and_float_clips_train_to_the_same_weights_and_metrics(tmp_path):
    """The uint8 path (normalised in the loop, here with 2 persistent workers) is the float path, bit for bit."""
    runs = {}
    for output, workers in (("float", 0), ("uint8", 2)):
        torch.manual_seed(11)
        model = ToyLifting()
        train = jpeg_clips_dataset(tmp_path / "clips", train=True, output=output)
        val = jpeg_clips_dataset(tmp_path / "clips", train=False, output=output, n=6)
        result = fit(model, train, val, cfg=toy_config(epochs=2, num_workers=workers), folder=tmp_path / output,
                     arch="toy", arch_kwargs={"num_classes": 3}, class_names=CLASSES)  # fmt: skip
        runs[output] = (model, result)
    (a, ra), (b, rb) = runs["float"], runs["uint8"]
    assert_same_weights(a, b)
    assert without_time(ra.history) == without_time(rb.history)


class InputSpy(ToyLifting):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, clip):
        self.inputs.append(clip.detach().clone())
        return super().forward(clip)


def test_uint8_batches_are_normalised_on_the_device_with_the_runs_normalization(tmp_path):
    data = jpeg_clips_dataset(tmp_path / "clips", train=False, output="uint8", n=6)
    pixels = torch.stack([data[i][0] for i in range(4)]).float()
    loader = EpochLoader(data, batch_size=4, num_workers=0, device=torch.device("cpu"), seed=0)
    batches = list(loader.epoch(0, range(4)))
    for normalization in (UNIT, IMAGENET):
        model = InputSpy()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        train_one_epoch(model, batches, optimizer, stats=EpochStats(0), device=torch.device("cpu"),
                        normalization=normalization)  # fmt: skip
        (seen,) = model.inputs
        mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in normalization)
        assert seen.dtype == torch.float32
        torch.testing.assert_close(seen, (pixels / 255 - mean) / std)
    model = InputSpy().eval()
    loader = shard_loader(data, batch_size=4, device=torch.device("cpu"))
    report = evaluate(model, data, class_names=CLASSES, device=torch.device("cpu"), normalization=UNIT, loader=loader)
    seen = torch.cat(model.inputs)
    assert report.logits.shape == (6, 3) and seen.shape[0] == 6 and float(seen.min()) >= 0 and float(seen.max()) <= 1


def test_fit_records_the_normalization_it_used_in_every_checkpoint(tmp_path):
    model = InputSpy()
    train = jpeg_clips_dataset(tmp_path / "clips", train=True, output="uint8", n=6)
    fit(model, train, None, cfg=toy_config(epochs=1), folder=tmp_path / "run", arch="toy",
        arch_kwargs={"num_classes": 3}, class_names=CLASSES, extra={"normalization": UNIT.to_dict()})  # fmt: skip
    seen = torch.cat(model.inputs)
    assert float(seen.min()) >= 0 and float(seen.max()) <= 1
    for name in ("best.pt", "last.pt"):
        assert load_checkpoint(tmp_path / "run" / name)["normalization"] == UNIT.to_dict()
