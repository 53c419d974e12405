"""Compare ``ifdd_3dvit_authors`` with the authors' released code, and write the reference fixture CI checks.

::

    python tools/authors_reference.py /path/to/IFDD                 # compare, print the per-stage table
    python tools/authors_reference.py /path/to/IFDD --write-fixture # also rewrite tests/fixtures/authors_reference.json

``/path/to/IFDD`` is a checkout of github.com/CyberPegasus/IFDD at commit 1a1f557 (e.g.
``git clone https://github.com/CyberPegasus/IFDD && git -C IFDD checkout 1a1f557``); its model code imports
``loguru``, ``tabulate``, ``easydict`` and ``cv2`` (``pip install loguru tabulate easydict opencv-python-headless``).
Nothing of theirs is copied here: their model is built by their own experiment files
(``exps/EXP_IFDD_{DFEW,MAFW}.py`` with ``configs/IFDD_{DFEW,MAFW}.json``, as their ``tools/train.py`` does).

For each config (DFEW: 16 frames, 7 classes; MAFW: 32 frames, 11 classes) the script

1. builds their model in float64, eval mode, and sets **every** tensor of its state dict from a seed
   ([`seeded_state`]: LayerNorm weights ``1 + 0.1 N(0, 1)``, biases and other 1-D tensors ``0.1 N(0, 1)``, so
   a mis-mapped norm or bias shows), keyed by name, so that the same values can be made without their code;
2. saves it in their checkpoint format (``{'epoch', 'model', 'opt', 'ema'}``) and loads that file with
   ``lifting_dfer.load_authors_checkpoint``;
3. runs both on the same seeded clip (batch 2, ``[0, 1]`` RGB) and reports the largest difference at every stage:
   backbone stages 3 and 4, pyramid ``X``, ISSM positions and ``X_S, X_D``, LADM ``Y_S, Y_D``, pooled features,
   logits; for DFEW also "before": the paper form ``ifdd_3dvit`` with their weights wherever a weight has the
   same meaning (backbone, pyramid without biases or norm, classifier).

``--write-fixture`` stores, per config, their state dict's names and shapes, the seeds and their outputs (logits
and sampled positions): numbers only. ``tests/test_authors.py`` rebuilds the checkpoint from them, loads it and
compares. Run from the repository root with ``PYTHONPATH=src``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "authors_reference.json"
CONFIGS = {"dfew": {"config": "IFDD_DFEW", "num_frames": 16}, "mafw": {"config": "IFDD_MAFW", "num_frames": 32}}
WEIGHT_SEED, INPUT_SEED, BATCH = 17, 23, 2


def seeded_state(shapes: Mapping[str, tuple[int, ...]], seed: int, dtype: torch.dtype = torch.float64) -> dict:
    """A value for every floating tensor named in ``shapes``, from ``seed`` and the name only (order-free).

    - 1-D ``*.weight`` (LayerNorm weights): ``1 + 0.1 N(0, 1)``; other 1-D tensors (biases, class token):
      ``0.1 N(0, 1)``;
    - ISSM's offset layers (``offset_project_*``): ``N(0, 1)``, so that offsets reach the clamping borders;
    - other tensors: ``N(0, 1) / sqrt(fan_in)`` with ``fan_in = numel / shape[0]``.
    """
    state = {}
    for key, shape in shapes.items():
        g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
        noise = torch.randn(tuple(shape), generator=g, dtype=dtype)
        if len(shape) == 1:
            state[key] = 1 + 0.1 * noise if key.endswith(".weight") else 0.1 * noise
        elif "offset_project" in key:
            state[key] = noise
        else:
            fan_in = max(1, noise.numel() // shape[0])
            state[key] = noise / fan_in**0.5
    return state


def seeded_clip(num_frames: int, seed: int = INPUT_SEED, dtype: torch.dtype = torch.float64) -> Tensor:
    """The input both models see: ``(2, 3, t0, 224, 224)`` uniform in ``[0, 1]``."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(BATCH, 3, num_frames, 224, 224, generator=g, dtype=dtype)


def their_checkpoint(shapes: Mapping[str, tuple[int, ...]], buffers: Mapping[str, list[int]], seed: int) -> dict:
    """Their ``{'epoch', 'model', 'opt', 'ema'}`` file content with [`seeded_state`] weights."""
    state = seeded_state(shapes, seed)
    state.update({k: torch.tensor(v, dtype=torch.int64) for k, v in buffers.items()})
    return {"epoch": 0, "model": state, "opt": {"state": {}, "param_groups": []}, "ema": None}


def _positions(index: Tensor, t: int) -> Tensor:
    """Where their ``grid_sample(align_corners=False, border)`` reads index ``i``: ``clamp(i t/(t-1) - 1/2)``."""
    grid = 2.0 * index / max(t - 1, 1) - 1.0  # their normalize_grid
    return (((grid + 1) * t - 1) / 2).clamp(0, t - 1)


@contextlib.contextmanager
def _their_code(root: Path) -> Iterator[None]:
    cwd = os.getcwd()
    sys.path.insert(0, str(root))
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path.remove(str(root))


def build_theirs(root: Path, config: str) -> torch.nn.Module:
    """Their model, built as their ``tools/train.py`` builds it (``get_exp_by_file``, ``merge``, ``_dynamic_update``)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger().setLevel(logging.ERROR)
    with _their_code(root):
        from easydict import EasyDict
        from loguru import logger

        logger.remove()
        from core.exps import get_exp_by_file

        cfg = EasyDict(json.loads(Path(f"configs/{config}.json").read_text()))
        exp = get_exp_by_file(cfg.exp_file)
        exp.merge(cfg)
        exp._dynamic_update()
        return exp.get_model()


def _their_stages(model: torch.nn.Module, clip: Tensor, t0: int) -> dict[str, Tensor]:
    """Their intermediate tensors, in our layouts (``b c t h w``), through forward hooks."""
    from einops import rearrange

    fpn, lift = model.backbone, model.backbone.WaveLifts
    split = lift.adapt_split
    got: dict[str, Any] = {}
    hooks = [
        fpn.backbone.register_forward_hook(lambda m, i, o: got.update(stages=o)),
        fpn.CatConv.register_forward_hook(lambda m, i, o: got.update(x=o)),
        split.hook_approx.register_forward_hook(lambda m, i, o: got.update(i_s=o)),
        split.hook_detail.register_forward_hook(lambda m, i, o: got.update(i_d=o)),
        split.register_forward_hook(lambda m, i, o: got.update(split=o)),
        lift.hook_xa.register_forward_hook(lambda m, i, o: got.update(y_s=o)),
        lift.out_norm1.register_forward_pre_hook(lambda m, i: got.update(y_d=i[0])),
        model.head.head.register_forward_pre_hook(lambda m, i: got.update(features=i[0].clone())),
    ]
    try:
        with torch.no_grad():
            logits = model(clip)
    finally:
        for h in hooks:
            h.remove()
    b, t, (h3, h4) = clip.shape[0], 8, (14, 7)
    out = {
        "stage3": rearrange(got["stages"][2][:, 1:], "b (t h w) c -> b c t h w", t=t, h=h3),
        "stage4": rearrange(got["stages"][3][:, 1:], "b (t h w) c -> b c t h w", t=t, h=h4),
        "X": rearrange(got["x"], "(b t) c h w -> b c t h w", b=b),
        "positions static": _positions(got["i_s"], t),
        "positions dynamic": _positions(got["i_d"], t),
        "X_S": rearrange(got["split"][0], "b c z (h w) -> b c z h w", h=h4),
        "X_D": rearrange(got["split"][1], "b c z (h w) -> b c z h w", h=h4),
        "Y_S": rearrange(got["y_s"], "b (z h w) c -> b c z h w", z=t // 2, h=h4),
        "Y_D": rearrange(got["y_d"], "b (z h w) c -> b c z h w", z=t // 2, h=h4),
        "features": got["features"],
        "logits": logits,
    }
    return out


def our_stages(model: torch.nn.Module, clip: Tensor) -> dict[str, Tensor]:
    """The same tensors from a lifting_dfer ``IFDD``."""
    got: dict[str, Any] = {}
    hooks = [
        model.backbone.register_forward_hook(lambda m, i, o: got.update(stages=o)),
        model.issm.register_forward_hook(lambda m, i, o: got.update(split=o)),
        model.ladm.register_forward_hook(lambda m, i, o: got.update(lifted=o)),
    ]
    try:
        with torch.no_grad():
            out = model.eval().forward_features(clip)
    finally:
        for h in hooks:
            h.remove()
    return {
        "stage3": got["stages"][0],
        "stage4": got["stages"][1],
        "X": out.x,
        "positions static": out.indices[0],
        "positions dynamic": out.indices[1],
        "X_S": got["split"][0],
        "X_D": got["split"][1],
        "Y_S": got["lifted"][0],
        "Y_D": got["lifted"][1],
        "features": out.features,
        "logits": out.logits,
    }


def _max_diff(a: Tensor, b: Tensor) -> float:
    if a.shape != b.shape:
        return float("nan")
    return float((a.double() - b.double()).abs().max())


def _paper_form(state: Mapping[str, Tensor], num_classes: int, num_frames: int) -> torch.nn.Module:
    """``ifdd_3dvit`` (paper form, no pyramid norm) with their weights where a weight has the same meaning."""
    from lifting_dfer import ifdd_3dvit
    from lifting_dfer.authors import AUTHORS_KEYS

    torch.manual_seed(0)
    model = ifdd_3dvit(num_classes=num_classes, num_frames=num_frames, norm_layer=None).double().eval()
    own = model.state_dict()
    shared = {}
    for key, value in state.items():
        for theirs, ours in AUTHORS_KEYS:
            if key.startswith(theirs) and ours.split(".")[0] in ("backbone", "pyramid", "classifier"):
                target = ours + key[len(theirs) :]
                value = value.unsqueeze(2) if target.startswith("pyramid.") else value
                if target in own and own[target].shape == value.shape:
                    shared[target] = value
    for key in own:
        if key.startswith("pyramid.") and key.endswith(".bias"):
            shared[key] = torch.zeros_like(own[key])  # their convs have none
    model.load_state_dict({**own, **shared})
    return model


def compare(root: Path, name: str) -> dict[str, Any]:
    """Build, save, load and compare one config; return the fixture entry and the per-stage differences."""
    from lifting_dfer import load_authors_checkpoint

    setting = CONFIGS[name]
    t0 = setting["num_frames"]
    theirs = build_theirs(root, setting["config"]).double().eval()
    own_state = theirs.state_dict()
    shapes = {k: list(v.shape) for k, v in own_state.items() if v.is_floating_point()}
    buffers = {k: v.tolist() for k, v in own_state.items() if not v.is_floating_point()}
    ckpt = their_checkpoint(shapes, buffers, WEIGHT_SEED)
    theirs.load_state_dict(ckpt["model"], strict=True)
    clip = seeded_clip(t0)
    start = time.perf_counter()
    reference = _their_stages(theirs, clip, t0)
    seconds_theirs = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"IFDD_{name.upper()}_split1_best_train_loss.pth"
        torch.save(ckpt, path)
        ours, info = load_authors_checkpoint(path)
    start = time.perf_counter()
    mine = our_stages(ours, clip)
    seconds_ours = time.perf_counter() - start
    after = {stage: _max_diff(mine[stage], reference[stage]) for stage in reference}
    before = None
    if t0 == 16:
        paper = _paper_form(ckpt["model"], info.num_classes, t0)
        before = {stage: _max_diff(v, reference[stage]) for stage, v in our_stages(paper, clip).items()}
    entry = {
        "num_frames": t0,
        "num_classes": info.num_classes,
        "shapes": shapes,
        "int_buffers": buffers,
        "logits": reference["logits"].tolist(),
        "positions": {
            "static": reference["positions static"].tolist(),
            "dynamic": reference["positions dynamic"].tolist(),
        },
    }
    return {"entry": entry, "after": after, "before": before, "seconds": (seconds_theirs, seconds_ours)}


def compact(fixture: dict[str, Any]) -> dict[str, Any]:
    """One table of their tensor shapes for all configs (``"shapes"``), and per config only the shapes that differ
    (``"shape_changes"``: the classifier)."""
    configs = fixture["configs"]
    first = next(iter(configs.values()))
    shared = dict(first["shapes"])
    for entry in configs.values():
        entry["shape_changes"] = {k: v for k, v in entry.pop("shapes").items() if shared.get(k) != v}
    return {**fixture, "shapes": shared}


def config_shapes(fixture: Mapping[str, Any], name: str) -> dict[str, list[int]]:
    """The shapes of their state dict for config ``name`` of a [`compact`] fixture."""
    return {**fixture["shapes"], **fixture["configs"][name]["shape_changes"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ifdd", type=Path, help="a checkout of github.com/CyberPegasus/IFDD (commit 1a1f557)")
    parser.add_argument("--write-fixture", action="store_true", help=f"rewrite {FIXTURE.relative_to(ROOT)}")
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=sorted(CONFIGS))
    args = parser.parse_args(argv)
    root = args.ifdd.resolve()
    if not (root / "core" / "wave_methods" / "WaveLift.py").is_file():
        parser.error(f"{root} is not a checkout of CyberPegasus/IFDD (no core/wave_methods/WaveLift.py)")
    torch.set_grad_enabled(False)
    results = {name: compare(root, name) for name in args.configs}
    worst = 0.0
    for name, result in results.items():
        print(f"\n{name.upper()} ({CONFIGS[name]['num_frames']} frames, {result['entry']['num_classes']} classes), "
              f"float64, eval, batch {BATCH}: max |ours - theirs| per stage")  # fmt: skip
        print(f"  {'stage':<18} {'before (paper form)':>20} {'after (authors form)':>21}")
        for stage, diff in result["after"].items():
            prior = result["before"][stage] if result["before"] else float("nan")
            print(f"  {stage:<18} {prior:>20.3g} {diff:>21.3g}")
        worst = max(worst, result["after"]["logits"])
        print(f"  forward time: theirs {result['seconds'][0]:.1f} s, ours {result['seconds'][1]:.1f} s")
    if args.write_fixture:
        fixture = compact({
            "about": "tools/authors_reference.py: the authors' code (CyberPegasus/IFDD 1a1f557) on seeded weights and "
            "inputs; see tests/test_authors.py",
            "commit": "1a1f557",
            "torch": torch.__version__,
            "weight_seed": WEIGHT_SEED,
            "input_seed": INPUT_SEED,
            "batch": BATCH,
            "configs": {name: result["entry"] for name, result in results.items()},
        })  # fmt: skip
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
        print(f"\nwrote {FIXTURE.relative_to(ROOT)} ({FIXTURE.stat().st_size / 1024:.1f} KiB)")
    ok = worst <= 1e-6
    print(f"\nlogits: max |ours - theirs| = {worst:.3g} ({'within' if ok else 'NOT within'} 1e-6)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
