import pytest
import timm
import torch
from safetensors.torch import save_file

from lifting_dfer.backbones import (
    MobileNetV2Features,
    MultiscaleBackbone,
    MViTFeatures,
    WeightsUnavailableError,
    resolve_weights,
)
from lifting_dfer.backbones import base as backbone_base


@pytest.fixture(scope="module")
def mobilenet():
    return MobileNetV2Features(num_frames=4).eval()


@pytest.fixture(scope="module")
def tiny_mvit():
    return MViTFeatures(num_frames=4, image_size=64, depths=(1, 1, 1, 1), out_stages=(1, 2, 3, 4)).eval()


# ---------------------------------------------------------------- MobileNetV2


def test_mobilenet_feature_shapes_match_the_contract(mobilenet):
    clip = torch.randn(2, 3, 4, 64, 96)
    feats = mobilenet(clip)
    assert [tuple(f.shape) for f in feats] == [(2, 24, 2, 16, 24), (2, 32, 2, 8, 12), (2, 96, 2, 4, 6)]
    assert [tuple(f.shape[1:]) for f in feats] == mobilenet.feature_shapes(64, 96)
    assert mobilenet.feature_dims == (24, 32, 96) and mobilenet.reductions == (4, 8, 16)
    assert mobilenet.out_frames == 2


def test_mobilenet_feature_shapes_at_224():
    assert MobileNetV2Features().feature_shapes(224, 224) == [(24, 8, 56, 56), (32, 8, 28, 28), (96, 8, 14, 14)]


def test_mobilenet_trunk_equals_timm_per_frame_then_averages_frame_pairs(mobilenet):
    full = timm.create_model("mobilenetv2_100", pretrained=False).eval()
    full.load_state_dict(mobilenet.state_dict(), strict=False)  # same trunk weights
    clip = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        per_frame = [
            full.forward_intermediates(clip[:, :, i], indices=[1, 2, 3], intermediates_only=True) for i in range(4)
        ]
        ours = mobilenet(clip)
    for j, f in enumerate(ours):
        for z in range(2):  # frame z of the output = mean of input frames 2z and 2z+1
            expected = (per_frame[2 * z][j] + per_frame[2 * z + 1][j]) / 2
            torch.testing.assert_close(f[:, :, z], expected, rtol=1e-4, atol=1e-4)


def test_mobilenet_frames_are_processed_independently(mobilenet):
    clip = torch.randn(1, 3, 4, 32, 32)
    changed = clip.clone()
    changed[:, :, 3] += 1.0  # touches output frame 1 only
    with torch.no_grad():
        a, b = mobilenet(clip)[-1], mobilenet(changed)[-1]
    torch.testing.assert_close(a[:, :, 0], b[:, :, 0])
    assert not torch.allclose(a[:, :, 1], b[:, :, 1])


def test_mobilenet_keeps_only_the_needed_blocks(mobilenet):
    assert len(mobilenet.blocks) == 5  # stem + blocks.0-4: the stride-16 stage ends at blocks.4
    assert sum(p.numel() for p in mobilenet.parameters()) == 542_528


@pytest.mark.parametrize(
    ("shape", "error", "match"),
    [
        ((1, 1, 4, 64, 64), ValueError, r"clip: expected shape 'b c t h w' with c=3, t=4, got \(1, 1, 4, 64, 64\)"),
        ((1, 3, 8, 64, 64), ValueError, r"with c=3, t=4, got \(1, 3, 8, 64, 64\)"),
        ((3, 4, 64, 64), ValueError, r"\(5 dims\)"),
        ((1, 3, 4, 60, 64), ValueError, r"multiple of 16 .* got 60x64"),
        ((1, 3, 4, 8, 8), ValueError, r"multiple of 16 .* got 8x8"),
    ],
)
def test_bad_clips_fail_before_any_compute(mobilenet, shape, error, match):
    calls = []
    hook = mobilenet.conv_stem.register_forward_pre_hook(lambda *args: calls.append(1))
    try:
        with pytest.raises(error, match=match):
            mobilenet(torch.randn(shape))
    finally:
        hook.remove()
    assert calls == []


def test_integer_clip_is_a_type_error(mobilenet):
    with pytest.raises(TypeError, match="clip: expected a floating-point tensor"):
        mobilenet(torch.zeros(1, 3, 4, 64, 64, dtype=torch.uint8))


def test_odd_frame_count_is_rejected_at_construction():
    with pytest.raises(ValueError, match="num_frames: expected a positive multiple of frame_stride=2, got 5"):
        MobileNetV2Features(num_frames=5)


# ---------------------------------------------------------------- weights


def test_mobilenet_pretrained_round_trip_from_full_timm_state_dict(tmp_path):
    full = timm.create_model("mobilenetv2_100", pretrained=False)
    path = tmp_path / "mnv2.pth"
    torch.save(full.state_dict(), path)
    net = MobileNetV2Features(num_frames=2, pretrained=path)
    torch.testing.assert_close(net.blocks[4][0].conv_pw.weight, full.blocks[4][0].conv_pw.weight)
    torch.testing.assert_close(net.bn1.running_var, full.bn1.running_var)


def test_safetensors_and_nested_checkpoints_load(tmp_path, mobilenet):
    state = {k: v.clone() for k, v in mobilenet.state_dict().items()}
    save_file(state, tmp_path / "w.safetensors")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "nested.pt")
    for name in ("w.safetensors", "nested.pt"):
        net = MobileNetV2Features(num_frames=4, pretrained=tmp_path / name)
        torch.testing.assert_close(net.conv_stem.weight, mobilenet.conv_stem.weight)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="pretrained: no weights file at .*nothing.pth"):
        MobileNetV2Features(num_frames=2, pretrained=tmp_path / "nothing.pth")
    with pytest.raises(FileNotFoundError, match="pretrained: no weights file"):
        MViTFeatures(num_frames=4, image_size=64, depths=(1, 1, 1, 1), pretrained="missing/mvit.pth")


def test_mismatched_keys_are_listed(tmp_path, mobilenet):
    state = dict(mobilenet.state_dict())
    del state["conv_stem.weight"]
    state["extra.weight"] = torch.zeros(1)
    state["bn1.bias"] = torch.zeros(7)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError) as info:
        MobileNetV2Features(num_frames=4, pretrained=tmp_path / "bad.pth")
    message = str(info.value)
    assert "missing keys: conv_stem.weight" in message
    assert "unexpected keys: extra.weight" in message
    assert "bn1.bias: file (7,) vs model (32,)" in message


def test_not_a_state_dict_is_rejected(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="does not hold a state dict"):
        MobileNetV2Features(num_frames=2, pretrained=tmp_path / "list.pt")


def test_names_resolve_from_the_local_caches(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    for name in ("timm/mobilenetv2_100.ra_in1k", "MViT_V2_S_Weights.KINETICS400_V1"):
        with pytest.raises(WeightsUnavailableError, match="not in the local cache and download=False"):
            resolve_weights(name, download=False)
    with pytest.raises(FileNotFoundError, match="neither a file nor the name of timm or torchvision weights"):
        resolve_weights("no_such_weights")
    # torchvision layout: <hub dir>/checkpoints/<file name of the url>
    tv = tmp_path / "torch" / "checkpoints" / "mvit_v2_s-ae3be167.pth"
    tv.parent.mkdir(parents=True)
    tv.write_bytes(b"x")
    assert resolve_weights("MViT_V2_S_Weights.KINETICS400_V1", download=False) == tv
    # Hugging Face layout: models--org--name/refs/main -> snapshots/<commit>/model.safetensors
    repo = tmp_path / "hf" / "models--timm--mobilenetv2_100.ra_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123" / "model.safetensors"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"x")
    assert resolve_weights("timm/mobilenetv2_100.ra_in1k", download=False) == snapshot
    assert resolve_weights("mobilenetv2_100.ra_in1k", download=False) == snapshot


# ---------------------------------------------------------------- MViT


def test_mvit_feature_shapes_match_the_contract(tiny_mvit):
    feats = tiny_mvit(torch.randn(2, 3, 4, 64, 64))
    expected = [(96, 2, 16, 16), (192, 2, 8, 8), (384, 2, 4, 4), (768, 2, 2, 2)]
    assert [tuple(f.shape[1:]) for f in feats] == expected == tiny_mvit.feature_shapes(64, 64)
    assert all(f.shape[0] == 2 for f in feats)


def test_mvit_default_trim_and_shapes_at_224():
    net = MViTFeatures()
    assert net.feature_shapes(224, 224) == [(384, 8, 14, 14), (768, 8, 7, 7)]
    assert len(net.blocks) == 10 and net._source_blocks == [0, 1, 2, 3, 4, 5, 6, 7, 14, 15]
    assert sum(p.numel() for p in net.parameters()) == 23_493_504
    three = MViTFeatures(out_stages=(1, 2, 3))
    assert three.feature_shapes(224, 224) == [(96, 8, 56, 56), (192, 8, 28, 28), (384, 8, 14, 14)]
    assert len(three.blocks) == 8 and three.norm is None


def test_mvit_is_built_for_one_size(tiny_mvit):
    with pytest.raises(ValueError, match=r"built for 64x64 frames .* got 96x96"):
        tiny_mvit(torch.randn(1, 3, 4, 96, 96))
    with pytest.raises(ValueError, match="t=4"):
        tiny_mvit(torch.randn(1, 3, 6, 64, 64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depths": (1, 3, 1, 1)}, "depths"),
        ({"out_stages": (3, 2)}, "out_stages"),
        ({"out_stages": (5,)}, "out_stages"),
        ({"num_frames": 5}, "even t0"),
        ({"image_size": 48}, "multiples of 32"),
    ],
)
def test_mvit_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MViTFeatures(**{"num_frames": 4, "image_size": 64, **kwargs})


def test_mvit_loads_torchvision_weights_with_removed_blocks_renumbered(tmp_path):
    from torchvision.models.video import mvit_v2_s

    full = mvit_v2_s()
    path = tmp_path / "mvit.pth"
    torch.save(full.state_dict(), path)
    net = MViTFeatures(pretrained=path)
    torch.testing.assert_close(net.blocks[7].attn.qkv.weight, full.blocks[7].attn.qkv.weight)
    torch.testing.assert_close(net.blocks[8].attn.qkv.weight, full.blocks[14].attn.qkv.weight)  # 14 -> 8
    torch.testing.assert_close(net.pos_encoding.class_token, full.pos_encoding.class_token)
    with pytest.raises(ValueError, match="shape mismatches: blocks.0.attn.rel_pos_h"):
        MViTFeatures(num_frames=16, image_size=192, pretrained=path)  # tables sized for 224


@pytest.mark.slow
def test_mvit_features_equal_torchvision_forward_without_class_token():
    from torchvision.models.video import mvit_v2_s

    ref = mvit_v2_s().eval()
    del ref.blocks[8:14]  # the 6 removed stage-3 blocks
    net = MViTFeatures(out_stages=(3, 4)).eval()
    net.load_state_dict({k: v for k, v in ref.state_dict().items() if not k.startswith("head")})
    captured = {}

    def keep(key, output):
        captured[key] = output  # returns None: the hook must not replace the output

    ref.blocks[7].register_forward_hook(lambda m, i, o: keep("stage3", o[0]))
    ref.norm.register_forward_hook(lambda m, i, o: keep("stage4", o))
    clip = torch.randn(1, 3, 16, 224, 224)
    with torch.no_grad():
        ref(clip)
        ours = net(clip)
    for feat, key in zip(ours, ("stage3", "stage4")):
        tokens = captured[key][:, 1:]  # class token dropped
        torch.testing.assert_close(feat.flatten(2).transpose(1, 2), tokens)


# ---------------------------------------------------------------- custom backbones


class TinyBackbone(MultiscaleBackbone):
    def __init__(self):
        super().__init__((4, 8), (2, 4), num_frames=4, frame_stride=2)
        self.a = torch.nn.Conv3d(3, 4, (2, 3, 3), stride=(2, 2, 2), padding=(0, 1, 1))
        self.b = torch.nn.Conv3d(4, 8, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward_features(self, clip):
        x = self.a(clip)
        return [x, self.b(x)]


def test_subclassing_the_contract_gives_validation_and_shapes():
    net = TinyBackbone()
    assert [tuple(f.shape[1:]) for f in net(torch.randn(1, 3, 4, 16, 16))] == net.feature_shapes(16, 16)
    with pytest.raises(ValueError, match="multiple of 4"):
        net(torch.randn(1, 3, 4, 18, 16))
    assert "feature_dims=(4, 8)" in repr(net)


def test_base_module_reexports():
    assert backbone_base.MultiscaleBackbone is MultiscaleBackbone
