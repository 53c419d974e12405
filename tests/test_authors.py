"""The authors' form (``lifting_dfer.authors``): equal to their released code, their checkpoints, its parts.

The reference numbers come from their code (CyberPegasus/IFDD at 1a1f557), run by ``tools/authors_reference.py``
on weights and clips made from seeds; ``tests/fixtures/authors_reference.json`` holds their state dict's names and
shapes, the seeds and their outputs. Here the same checkpoint is rebuilt from the seeds, saved in their format,
loaded with ``load_authors_checkpoint`` and run: the logits must agree within 1e-6 (float64, eval, batch 2).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer import IFDD, ISSM, LADM, LiftLoss, PyramidAggregation, create_model, model_from_checkpoint
from lifting_dfer.authors import (
    AUTHORS_UNUSED,
    BlockPool,
    GridTokens,
    authors_state_dict,
    convert_authors_checkpoint,
    ifdd_3dvit_authors,
    load_authors_checkpoint,
)
from lifting_dfer.backbones import MViTFeatures
from lifting_dfer.checkpoint import load_checkpoint
from lifting_dfer.data import DFEW_CLASSES
from lifting_dfer.normalization import UNIT, checkpoint_normalization

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "authors_reference.json").read_text())


def _tools():
    spec = importlib.util.spec_from_file_location("authors_reference", ROOT / "tools" / "authors_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = _tools()


def their_file(tmp_path: Path, name: str, *, seed: int | None = None, dtype=torch.float64) -> Path:
    """Their checkpoint of config ``name`` with the fixture's seeded weights, written as their trainer writes it."""
    shapes = REFERENCE.config_shapes(FIXTURE, name)
    ckpt = REFERENCE.their_checkpoint(shapes, FIXTURE["configs"][name]["int_buffers"], seed or FIXTURE["weight_seed"])
    ckpt["model"] = {k: v.to(dtype) if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    path = tmp_path / f"IFDD_{name.upper()}_split1_best_train_loss.pth"
    torch.save(ckpt, path)
    return path


# ------------------------------------------------------------------------------------------ equal to their code
@pytest.mark.slow
@pytest.mark.parametrize("name", ["dfew", "mafw"])
def test_logits_equal_the_authors_code_within_1e_6(tmp_path, name):
    entry = FIXTURE["configs"][name]
    model, info = load_authors_checkpoint(their_file(tmp_path, name))
    assert (info.num_frames, info.num_classes) == (entry["num_frames"], entry["num_classes"])
    assert next(model.parameters()).dtype == torch.float64 and not model.training
    clip = REFERENCE.seeded_clip(entry["num_frames"], FIXTURE["input_seed"])
    with torch.no_grad():
        out = model.forward_features(clip)
    expected = torch.tensor(entry["logits"], dtype=torch.float64)
    assert out.logits.shape == (FIXTURE["batch"], entry["num_classes"])
    assert (out.logits - expected).abs().max() <= 1e-6
    for ours, theirs in zip(out.indices, (entry["positions"]["static"], entry["positions"]["dynamic"])):
        torch.testing.assert_close(ours, torch.tensor(theirs, dtype=torch.float64), rtol=0, atol=1e-9)


def test_fixture_positions_are_fractional_and_reach_the_borders():
    """The seeded offsets move the positions off the grid and into the clamp, so both paths are exercised."""
    positions = torch.tensor([FIXTURE["configs"][n]["positions"][g] for n in FIXTURE["configs"] for g in
                              ("static", "dynamic")])  # fmt: skip
    assert (positions != positions.round()).any()
    assert ((positions == 0) | (positions == 7)).any()


def test_the_model_has_their_parameters_less_the_unused_ones():
    shapes = REFERENCE.config_shapes(FIXTURE, "dfew")
    theirs = sum(math.prod(s) for k, s in shapes.items() if k not in AUTHORS_UNUSED)
    assert sum(p.numel() for p in ifdd_3dvit_authors().parameters()) == theirs == 37_532_498


# -------------------------------------------------------------------------------------------------- the loader
def _state(name: str) -> dict[str, torch.Tensor]:
    """Their state dict of config ``name`` with zero weights (cheap; the keys and shapes are what matter)."""
    shapes = REFERENCE.config_shapes(FIXTURE, name)
    state = {k: torch.zeros(s) for k, s in shapes.items()}
    state.update({k: torch.tensor(v) for k, v in FIXTURE["configs"][name]["int_buffers"].items()})
    return state


def test_loader_maps_every_tensor_of_theirs_and_drops_only_the_unused_ones():
    target = ifdd_3dvit_authors().state_dict()
    mapped = authors_state_dict(_state("dfew"), target)
    assert sorted(mapped) == sorted(target)
    assert set(_state("dfew")) - set(AUTHORS_UNUSED) != set()
    assert all(key in _state("dfew") for key in AUTHORS_UNUSED)


def test_loader_lists_every_unmapped_missing_and_mismatched_key(tmp_path):
    state = _state("dfew")
    del state["backbone.WaveLifts.q_a.weight"], state["backbone.backbone.blocks.3.attn.qkv.bias"]
    state["backbone.WaveLifts.extra.weight"] = torch.zeros(3)
    state["backbone.WaveLifts.mlp.0.bias"] = torch.zeros(5)
    path = tmp_path / "theirs.pth"
    torch.save({"epoch": 3, "model": state, "opt": {}, "ema": None}, path)
    with pytest.raises(ValueError) as error:
        load_authors_checkpoint(path)
    message = str(error.value)
    for text in (
        "unmapped keys (1): backbone.WaveLifts.extra.weight",
        "missing keys (2): ",
        "ladm.update.to_q.weight",
        "backbone.blocks.3.attn.qkv.bias",
        "shape mismatches (1): backbone.WaveLifts.mlp.0.bias: theirs (5,) vs ours (3072,)",
    ):
        assert text in message


def test_loader_tells_mafw_from_dfew_by_the_classifier(tmp_path):
    for name, frames, pool in (("dfew", 16, 1), ("mafw", 32, 2)):
        path = tmp_path / f"{name}.pth"
        torch.save({"epoch": 7, "model": _state(name), "opt": {}, "ema": None}, path)
        model, info = load_authors_checkpoint(path)
        assert (info.num_frames, model.backbone.num_frames, model.backbone.temporal_pool) == (frames, frames, pool)
        assert info.epoch == 7 and info.weights == "model" and set(info.dropped) == set(AUTHORS_UNUSED)
        assert next(model.parameters()).dtype == torch.float32


def _saved(tmp_path: Path, obj: object, name: str = "saved.pth") -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_loader_reads_ema_weights_and_bare_state_dicts(tmp_path):
    state = _state("dfew")
    state["head.head.1.bias"] = torch.arange(7.0)
    ema = {"initted": torch.tensor(True), "step": torch.tensor(5), **{f"ema_model.{k}": v for k, v in state.items()}}
    path = _saved(tmp_path, {"epoch": 1, "model": _state("dfew"), "opt": {}, "ema": ema})
    model, info = load_authors_checkpoint(path, weights="ema")
    assert info.weights == "ema" and torch.equal(model.classifier.bias, torch.arange(7.0))
    assert torch.equal(
        load_authors_checkpoint(_saved(tmp_path, state, "bare.pth"))[0].classifier.bias, torch.arange(7.0)
    )
    no_ema = _saved(tmp_path, {"epoch": 1, "model": state, "opt": {}, "ema": None}, "no_ema.pth")
    with pytest.raises(ValueError, match="no 'ema' state dict"):
        load_authors_checkpoint(no_ema, weights="ema")


def test_loader_refuses_files_that_are_not_theirs(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_authors_checkpoint(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="no classifier 'head.head.1.weight'"):
        load_authors_checkpoint(_saved(tmp_path, {"model": {"w": torch.zeros(2)}}))
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable PyTorch file"):
        load_authors_checkpoint(tmp_path / "junk.pth")


def test_converted_checkpoint_records_unit_normalization_and_rebuilds_the_model(tmp_path):
    source = their_file(tmp_path, "dfew", dtype=torch.float32)
    out = convert_authors_checkpoint(source, tmp_path / "ours.pt")
    ckpt = load_checkpoint(out)
    assert ckpt["arch"] == "ifdd_3dvit_authors" and checkpoint_normalization(ckpt) == UNIT
    assert ckpt["class_names"][0] == "Happy" and ckpt["converted_from"]["commit"] == "1a1f557"
    rebuilt, _ = model_from_checkpoint(out)
    direct, _ = load_authors_checkpoint(source)
    for (name, a), b in zip(rebuilt.state_dict().items(), direct.state_dict().values()):
        assert torch.equal(a, b), name


# -------------------------------------------------------------------------------------------- the parts
def test_grid_tokens_equal_pool_conv_gelu_flatten_per_frame():
    tokens = GridTokens(6, grid=3, channels=2)
    x = torch.randn(2, 6, 4, 7, 5)
    weight = tokens.proj.weight[..., None, None]  # the authors' 1x1 Conv2d
    frames = [F.adaptive_avg_pool2d(x[:, :, i], 3) for i in range(4)]
    expected = torch.stack([F.gelu(F.conv2d(f, weight, tokens.proj.bias)).flatten(1) for f in frames], dim=1)
    torch.testing.assert_close(tokens(x), expected)
    already = torch.randn(2, 6, 4, 3, 3)  # already g x g: not pooled, and pooling would change nothing
    plain = torch.stack([F.gelu(tokens.proj(already[:, :, i].permute(0, 2, 3, 1))).permute(0, 3, 1, 2).flatten(1)
                         for i in range(4)], dim=1)  # fmt: skip
    torch.testing.assert_close(tokens(already), plain)


@given(b=st.integers(1, 2), c=st.integers(1, 5), t=st.integers(1, 4), side=st.integers(1, 9), grid=st.integers(1, 4))
def test_grid_tokens_shapes(b, c, t, side, grid):
    assert GridTokens(c, grid=grid, channels=3)(torch.randn(b, c, t, side, side)).shape == (b, t, 3 * grid * grid)


def test_zero_offsets_read_the_positions_their_grid_sample_reads():
    issm = ISSM(4, 8, 2, 2, token_encoder=GridTokens(4, grid=2, channels=2), offset_bias=False,
                index_convention="grid_sample", offset_range=2)  # fmt: skip
    torch.nn.init.zeros_(issm.to_static.weight)
    torch.nn.init.zeros_(issm.to_dynamic.weight)
    i_s, i_d = issm.indices(torch.randn(1, 4, 8, 2, 2))
    assert [round(v, 2) for v in i_s[0].tolist()] == [0.0, 1.79, 4.07, 6.36]
    assert [round(v, 2) for v in i_d[0].tolist()] == [0.64, 2.93, 5.21, 7.0]


def test_grid_sample_convention_samples_what_grid_sample_samples():
    torch.manual_seed(3)
    b, c, t = 2, 3, 8
    issm = ISSM(c, t, 2, 2, token_encoder=GridTokens(c, grid=2, channels=2), correlation_scale=1 / c,
                offset_bias=False, index_convention="grid_sample", offset_range=2)  # fmt: skip
    torch.nn.init.normal_(issm.to_static.weight, std=2.0)
    torch.nn.init.normal_(issm.to_dynamic.weight, std=2.0)
    x = torch.randn(b, c, t, 2, 2, dtype=torch.float64)
    issm = issm.double()
    x_s, x_d = issm(x)
    # the authors' computation, written plainly: offsets from the tokens, then grid_sample on (b, h w c, t, 1)
    tokens = issm.token_encoder(x)
    corr = (tokens / c) @ tokens.transpose(1, 2)
    for out, layer, sign, base in ((x_s, issm.to_static, 1, 0), (x_d, issm.to_dynamic, -1, 1)):
        index = torch.arange(base, t, 2, dtype=torch.float64) + 2 * torch.tanh(
            layer((sign * corr).softmax(-1).flatten(1))
        )
        grid = torch.stack([torch.zeros_like(index), 2 * index / (t - 1) - 1], -1)[:, :, None]  # (b, z, 1, 2)
        planes = x.permute(0, 3, 4, 1, 2).reshape(b, -1, t, 1)
        read = F.grid_sample(planes, grid, mode="bilinear", padding_mode="border", align_corners=False)
        expected = read.reshape(b, 2, 2, c, t // 2).permute(0, 3, 4, 1, 2)
        torch.testing.assert_close(out, expected)
    assert issm.to_static.bias is None and "index_convention='grid_sample'" in repr(issm)


def test_issm_rejects_bad_authors_options():
    with pytest.raises(ValueError, match="index_convention"):
        ISSM(4, 8, 2, 2, index_convention="align_corners")
    with pytest.raises(ValueError, match="correlation_scale"):
        ISSM(4, 8, 2, 2, correlation_scale=0.0)
    with pytest.raises(ValueError, match="token_encoder"):
        ISSM(4, 8, 2, 2, split="even_odd", token_encoder=GridTokens(4))


def test_stream_norm_ladm_equals_the_authors_lifting_written_plainly():
    torch.manual_seed(1)
    ladm = LADM(16, heads=4, norm="stream", qkv_bias=True, value_residual=True, projection="linear").double()
    x_s, x_d = torch.randn(2, 16, 2, 3, 3, dtype=torch.float64), torch.randn(2, 16, 2, 3, 3, dtype=torch.float64)
    y_s, y_d = ladm(x_s, x_d)

    def tokens(x):
        return x.flatten(2).transpose(1, 2)

    def step(attn, query, context):  # Linear(softmax(Q K^T / sqrt(d)) V + V), heads of width 4
        q = attn.to_q(query)
        k, v = attn.to_kv(context).chunk(2, -1)
        out = torch.zeros_like(q)
        for h in range(4):
            s = slice(4 * h, 4 * h + 4)
            out[..., s] = torch.softmax(q[..., s] @ k[..., s].transpose(1, 2) / 2.0, -1) @ v[..., s]
        return attn.proj(out + v)

    a, d = ladm.norm_static(tokens(x_s)), ladm.norm_dynamic(tokens(x_d))
    a = a + step(ladm.update, a, d)  # Y_S = LN(X_S) + U(LN(X_D) | LN(X_S))
    d = d - step(ladm.predict, d, a)
    torch.testing.assert_close(tokens(y_s), a)
    torch.testing.assert_close(tokens(y_d), d)
    assert not hasattr(ladm.update, "norm_query") and not hasattr(ladm.update, "mlp")
    assert "norm='stream'" in repr(ladm) and "value_residual=True" in repr(ladm)


def test_block_pool_equals_the_block_then_the_position_weighting():
    torch.manual_seed(2)
    pool = BlockPool(16, num_tokens=2 * 3 * 3, heads=4, mlp_ratio=2.0).double().eval()
    torch.nn.init.normal_(pool.positions.weight)
    y = torch.randn(2, 16, 2, 3, 3, dtype=torch.float64)
    tokens = y.flatten(2).transpose(1, 2)
    q, k, v = pool.qkv(pool.norm1(tokens)).chunk(3, -1)
    heads = [torch.softmax(q[..., s] @ k[..., s].transpose(1, 2) / 2.0, -1) @ v[..., s]
             for s in (slice(4 * h, 4 * h + 4) for h in range(4))]  # fmt: skip
    u = tokens + pool.proj(torch.cat(heads, -1))
    mlp = pool.fc2(F.gelu(pool.fc1(pool.norm2(u))))  # replaces u: no residual
    expected = (pool.positions.weight[0, :, None] * mlp).sum(1)
    torch.testing.assert_close(pool(y), expected)


def test_block_pool_skips_dropped_branches_and_equals_stochastic_depth_from_the_same_seed():
    from torchvision.ops import StochasticDepth

    pool = BlockPool(16, num_tokens=2 * 3 * 3, heads=4, mlp_ratio=2.0, drop_path=0.5).double().train()
    drop = StochasticDepth(0.5, "row")
    y = torch.randn(6, 16, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    tokens = y.flatten(2).transpose(1, 2)
    dropped = 0
    for seed in range(8):
        torch.manual_seed(seed)  # the authors' order: the attention branch's mask, then the MLP output's
        q, k, v = pool.qkv(pool.norm1(tokens)).chunk(3, -1)
        heads = [torch.softmax(q[..., s] @ k[..., s].transpose(1, 2) / 2.0, -1) @ v[..., s]
                 for s in (slice(4 * h, 4 * h + 4) for h in range(4))]  # fmt: skip
        u = tokens + drop(pool.proj(torch.cat(heads, -1)))
        expected = (pool.positions.weight[0, :, None] * drop(pool.fc2(F.gelu(pool.fc1(pool.norm2(u)))))).sum(1)
        torch.manual_seed(seed)
        got = pool(y)
        torch.testing.assert_close(got, expected)
        dropped += int((got == 0).all(1).sum())
        grads = torch.autograd.grad(got.sum(), [y, pool.fc1.weight])
        reference = torch.autograd.grad(expected.sum(), [y, pool.fc1.weight])
        torch.testing.assert_close(grads, reference)
    assert dropped > 0  # some samples' outputs were dropped (and not computed)


def test_block_pool_gradients_match_gradcheck():
    pool = BlockPool(4, num_tokens=2, heads=2, mlp_ratio=1.0).double().eval()
    y = torch.randn(1, 4, 2, 1, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pool, (y,))


def test_block_pool_rejects_another_token_count():
    with pytest.raises(ValueError, match="18 tokens"):
        BlockPool(8, num_tokens=8, heads=2)(torch.randn(1, 8, 2, 3, 3))


def test_batch_sum_liftloss_is_the_batch_size_times_the_mean():
    y_s, x = torch.randn(5, 4, 2, 3, 3), torch.randn(5, 4, 4, 3, 3)
    mean, total = LiftLoss()(y_s, x), LiftLoss(reduction="batch_sum")(y_s, x)
    torch.testing.assert_close(total, 5 * mean)
    per_clip = [LiftLoss()(y_s[i : i + 1], x[i : i + 1]) for i in range(5)]
    torch.testing.assert_close(total, torch.stack(per_clip).sum())
    assert LiftLoss(reduction="batch_sum")(y_s[:0], x[:0]).item() == 0.0


def test_pyramid_without_bias_has_no_bias_parameters():
    pyramid = PyramidAggregation([8, 16], 16, norm_layer=None, bias=False)
    assert [n for n, _ in pyramid.named_parameters()] == ["reduce.0.weight", "project.weight"]
    assert "bias=False" in repr(pyramid)


def test_mvit_temporal_pool_averages_frame_pairs_after_the_embedding():
    net = MViTFeatures(num_frames=8, image_size=64, depths=(1, 1, 1, 1), temporal_pool=2).eval()
    plain = MViTFeatures(num_frames=4, image_size=64, depths=(1, 1, 1, 1))
    plain.load_state_dict(net.state_dict())
    clip = torch.randn(1, 3, 8, 64, 64)
    pooled = F.avg_pool3d(net.conv_proj(clip), (2, 1, 1))
    plain.conv_proj = torch.nn.Identity()  # the blocks after the embedding, on the pooled tokens
    with torch.no_grad():
        expected = plain.eval().forward_features(pooled)
        got = net(clip)
    assert [f.shape[2] for f in got] == [2, 2] and net.out_frames == 2
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


def test_ifdd_refuses_a_given_part_that_a_switch_turns_off():
    from lifting_dfer.backbones import MobileNetV2Features

    backbone = MobileNetV2Features(num_frames=4)
    with pytest.raises(ValueError, match="use_issm / use_ladm"):
        IFDD(backbone, dim=8, image_size=64, use_ladm=False, ladm=LADM(8, heads=2))


def test_builder_is_registered_and_rebuilds_from_its_arguments():
    model = create_model("ifdd_3dvit_authors", num_classes=11, num_frames=32)
    assert model.normalization == UNIT and model.backbone.temporal_pool == 2
    assert model.classifier.out_features == 11 and model.pool.num_tokens == 4 * 7 * 7
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        ifdd_3dvit_authors(dim=128)
    with torch.no_grad():
        logits = ifdd_3dvit_authors(depths=(1, 1, 1, 1)).eval()(torch.rand(1, 3, 16, 224, 224))
    assert logits.shape == (1, 7) and torch.isfinite(logits).all()


# ------------------------------------------------------------------------------- predict and export read it
@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:FutureWarning")
def test_predict_and_export_apply_the_checkpoint_normalization(tmp_path):
    from lifting_dfer import save_checkpoint
    from lifting_dfer.export import read_sidecar
    from lifting_dfer.export.checkpoint_export import export_checkpoint
    from lifting_dfer.normalization import IMAGENET
    from lifting_dfer.video import TorchBackend

    kwargs = {"num_classes": 2, "num_frames": 4, "image_size": 32}
    model = create_model("ifdd_2dcnn", **kwargs)
    for name, extra, expected in (("unit.pt", {"normalization": UNIT.to_dict()}, UNIT), ("old.pt", {}, IMAGENET)):
        path = save_checkpoint(tmp_path / name, model, arch="ifdd_2dcnn", arch_kwargs=kwargs, class_names=["a", "b"],
                               **extra)  # fmt: skip
        backend = TorchBackend.from_checkpoint(path)
        assert (backend.info.mean, backend.info.std) == expected
        result = export_checkpoint(path, format="torchscript", output=tmp_path / f"{name}.torchscript")
        meta = read_sidecar(result.path)
        assert (tuple(meta.mean), tuple(meta.std)) == expected


# ------------------------------------------------------------------------------------------------ benchmark
def test_benchmark_record_renders_on_the_performance_page():
    import sys

    sys.path.insert(0, str(ROOT))
    from benchmarks import make_docs

    modes = {m: {"theirs": {"median_s": 2.0}, "ours": {"median_s": 1.0}, "speedup": 2.0, "speedup_rounds": [1.9, 2.1]}
             for m in ("fwd", "fwd+bwd")}  # fmt: skip
    record = {
        "schema": "lifting_dfer.benchmarks/1", "kind": "authors", "tiny": False, "_file": "authors-cpu.json",
        "env": {"device": "cpu", "device_name": "CPU", "threads": 1, "torch": "2", "python": "3", "commit": "abc",
                "date": "today", "argv": ["--ifdd", "IFDD"]},
        "cases": [{"batch": 2, "agreement_fp32": {"eval": {"logits_max_abs_diff": 3e-7}}, "modes": modes}],
        "targets": [{"name": "b=2 fwd+bwd speed-up", "value": 2.0, "op": ">=", "threshold": 1.5, "met": True}],
    }  # fmt: skip
    page = make_docs.render([record])
    assert "## The authors' form: `python -m benchmarks.authors`" in page
    assert "| b=2 | fwd+bwd | **2.00x** (1.90-2.10) | median | = | 3.0e-07 |" in page
    modes["fwd+bwd"] |= {"speedup_statistic": "mean", "speedup_median": 1.8}
    assert "| b=2 | fwd+bwd | **2.00x** (1.90-2.10) | mean | 1.80x | 3.0e-07 |" in make_docs.render([record])
    assert "| cpu | b=2 fwd+bwd speed-up | 2 | >= 1.5 | yes |" in page


def test_saved_pretrained_config_records_the_authors_input_normalization():
    from lifting_dfer.normalization import IMAGENET
    from lifting_dfer.pretrained import _checked

    for arch, expected in (("ifdd_3dvit_authors", UNIT), ("ifdd_3dvit", IMAGENET)):
        config = {"arch": arch, "arch_kwargs": {"num_classes": 7}, "class_names": list(DFEW_CLASSES),
                  "normalization": None, "sampling": None, "input_size": None}  # fmt: skip
        assert _checked(config, "test")["normalization"] == expected.to_dict()


def test_init_starts_a_run_from_their_checkpoint_as_the_authors_form(tmp_path):
    from lifting_dfer.training.finetune import init_checkpoint, init_preset, init_weights

    source = their_file(tmp_path, "dfew", dtype=torch.float32)
    ckpt = init_checkpoint(source)
    direct, _ = load_authors_checkpoint(source)
    assert ckpt["arch"] == "ifdd_3dvit_authors" and ckpt["arch_kwargs"] == {"num_classes": 7, "num_frames": 16}
    assert ckpt["class_names"] == list(DFEW_CLASSES) and checkpoint_normalization(ckpt) == UNIT
    for name, tensor in direct.state_dict().items():
        assert torch.equal(ckpt["state_dict"][name], tensor), name
    preset = init_preset({"init": source, "model": "ifdd_2dcnn", "num_frames": 8}, set())
    assert (preset["model"], preset["num_frames"], preset["model_args"]) == ("ifdd_3dvit_authors", 16, {})
    model = create_model("ifdd_3dvit_authors", num_classes=3, num_frames=16)
    report = init_weights(model, ckpt, num_classes=3)
    assert report.left_out == ["classifier.weight", "classifier.bias"]
    assert torch.equal(model.state_dict()["pool.positions.weight"], ckpt["state_dict"]["pool.positions.weight"])
