import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lifting_dfer.backbones import MultiscaleBackbone
from lifting_dfer.heads import AttentionPool, ConcatMLPHead
from lifting_dfer.ifdd import IFDD, IFDDOutput
from lifting_dfer.interpolation import interpolate_frames
from lifting_dfer.loss import LiftLoss


class TinyBackbone(MultiscaleBackbone):
    """Two stages (6 @ /2, 10 @ /4) with temporal stride 2: fast stand-in for MobileNetV2 / MViT."""

    def __init__(self, num_frames=8):
        super().__init__((6, 10), (2, 4), num_frames=num_frames, frame_stride=2)
        self.stem = nn.Conv3d(3, 6, (2, 3, 3), stride=(2, 2, 2), padding=(0, 1, 1))
        self.down = nn.Conv3d(6, 10, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward_features(self, clip):
        x = torch.relu(self.stem(clip))
        return [x, self.down(x)]


def tiny_ifdd(**kwargs):
    settings = {"num_classes": 5, "dim": 16, "image_size": 16, "token_dim": 8, "heads": 4, **kwargs}
    return IFDD(TinyBackbone(), **settings)


CLIP = (2, 3, 8, 16, 16)  # -> X: (2, 16, 4, 4, 4), z = 2


@pytest.mark.parametrize("use_issm", [True, False])
@pytest.mark.parametrize("use_ladm", [True, False])
def test_training_output_shapes_and_lift_loss(use_issm, use_ladm):
    model = tiny_ifdd(use_issm=use_issm, use_ladm=use_ladm).train()
    out = model(torch.randn(CLIP))
    assert isinstance(out, IFDDOutput)
    assert out.logits.shape == (2, 5) and out.features.shape == (2, 16)
    assert out.x.shape == (2, 16, 4, 4, 4) and out.y_s.shape == (2, 16, 2, 4, 4)
    assert [i.shape for i in out.indices] == [(2, 2), (2, 2)]
    loss = F.cross_entropy(out.logits, torch.tensor([0, 4])) + LiftLoss()(out.y_s, out.x)
    loss.backward()
    assert torch.isfinite(loss)


def test_eval_returns_logits_and_forward_features_gives_everything():
    model = tiny_ifdd().eval()
    clip = torch.randn(CLIP)
    logits = model(clip)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 5)
    out = model.forward_features(clip)
    torch.testing.assert_close(out.logits, logits)
    torch.testing.assert_close(out.logits, model.classifier(out.features))  # features: input of the last Linear


def test_pipeline_equals_its_modules_composed_by_hand():
    model = tiny_ifdd().eval()
    with torch.no_grad():  # non-trivial offsets and pooling weights
        model.issm.to_static.weight.normal_(std=0.5)
        model.issm.to_dynamic.weight.normal_(std=0.5)
        model.pool.score.weight.normal_()
    clip = torch.randn(CLIP)
    with torch.no_grad():
        x = model.pyramid(model.backbone(clip))
        i_s, i_d = model.issm.indices(x)
        x_s, x_d = interpolate_frames(x, i_s), interpolate_frames(x, i_d)
        y_s, y_d = model.ladm(x_s, x_d)
        tokens = F.layer_norm(y_d.flatten(2).transpose(1, 2), (16,), model.pool.norm.weight, model.pool.norm.bias)
        weights = torch.softmax(tokens @ model.pool.score.weight.T + model.pool.score.bias, dim=1)
        logits = model.classifier((weights * tokens).sum(1))
        out = model.forward_features(clip)
    torch.testing.assert_close(out.logits, logits)
    torch.testing.assert_close(out.y_s, y_s)
    torch.testing.assert_close(out.x, x)
    assert not torch.allclose(out.indices[0], torch.tensor([0.0, 2.0]).expand(2, -1))


def test_without_issm_the_split_is_even_odd():
    model = tiny_ifdd(use_issm=False).eval()
    out = model.forward_features(torch.randn(CLIP))
    assert out.indices[0].tolist() == [[0.0, 2.0]] * 2 and out.indices[1].tolist() == [[1.0, 3.0]] * 2
    assert not any(n.startswith("issm.") for n, _ in model.named_parameters())


def test_issm_starts_from_the_even_odd_split():
    out = tiny_ifdd().eval().forward_features(torch.randn(CLIP))
    assert out.indices[0].tolist() == [[0.0, 2.0]] * 2


def test_without_ladm_x_d_is_classified_and_y_s_is_x_s():
    model = tiny_ifdd(use_issm=False, use_ladm=False).eval()
    clip = torch.randn(CLIP)
    out = model.forward_features(clip)
    torch.testing.assert_close(out.y_s, out.x[:, :, 0::2])
    torch.testing.assert_close(out.features, model.pool(out.x[:, :, 1::2]))
    assert model.ladm is None


@pytest.mark.parametrize("kwargs", [{"order": "predict_first"}, {"mutual": False}, {"offset_range": 1.0}])
def test_ladm_and_issm_ablations_pass_through(kwargs):
    model = tiny_ifdd(**kwargs)
    for key, value in kwargs.items():
        owner = model.issm if key == "offset_range" else model.ladm
        assert getattr(owner, key) == value
    assert model(torch.randn(CLIP)).logits.shape == (2, 5)


def test_every_parameter_receives_a_gradient():
    model = tiny_ifdd().train()
    with torch.no_grad():
        model.issm.to_static.weight.normal_(std=0.5)  # zero-initialised offset layers pass no gradient upstream
        model.issm.to_dynamic.weight.normal_(std=0.5)
    out = model(torch.randn(CLIP))
    (F.cross_entropy(out.logits, torch.tensor([1, 2])) + LiftLoss()(out.y_s, out.x)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_state_dict_round_trip(tmp_path):
    model = tiny_ifdd().eval()
    torch.save(model.state_dict(), tmp_path / "ifdd.pt")
    clone = tiny_ifdd()
    clone.load_state_dict(torch.load(tmp_path / "ifdd.pt", weights_only=True))
    clip = torch.randn(CLIP)
    torch.testing.assert_close(clone.eval()(clip), model(clip))


def test_bad_clips_fail_before_any_compute():
    model = tiny_ifdd()
    calls = []
    model.backbone.stem.register_forward_pre_hook(lambda *args: calls.append(1))
    for shape in [(2, 3, 6, 16, 16), (2, 1, 8, 16, 16), (2, 3, 8, 18, 16), (3, 8, 16, 16)]:
        with pytest.raises(ValueError, match="clip"):
            model(torch.randn(shape))
    assert calls == []


def test_clip_of_another_size_than_built_is_rejected_at_the_boundary():
    model = tiny_ifdd()
    calls = []
    model.backbone.stem.register_forward_pre_hook(lambda *args: calls.append(1))
    with pytest.raises(ValueError, match=r"clip: expected shape 'b c t h w' with c=3, t=8, h=16, w=16, got"):
        model(torch.randn(2, 3, 8, 32, 32))
    assert calls == []


def test_backbone_without_the_contract_is_a_type_error():
    with pytest.raises(TypeError, match="backbone: expected a module with feature_dims"):
        IFDD(nn.Conv3d(3, 8, 1))


def test_repr_names_the_switches():
    assert "use_issm=True, use_ladm=False" in repr(tiny_ifdd(use_ladm=False))


# ---------------------------------------------------------------- heads


def test_attention_pool_starts_as_the_token_mean_of_normalised_tokens():
    pool = AttentionPool(6)
    y = torch.randn(2, 6, 2, 3, 3)
    tokens = F.layer_norm(y.flatten(2).transpose(1, 2), (6,))
    torch.testing.assert_close(pool(y), tokens.mean(1))


def test_concat_mlp_head_concatenates_frame_means():
    head = ConcatMLPHead(3, num_frames=2, hidden=4, num_classes=2).eval()
    x = torch.randn(1, 3, 2, 5, 5)
    v = torch.cat([x[:, :, 0].mean((-1, -2)), x[:, :, 1].mean((-1, -2))], dim=1)  # frame 0 channels, frame 1 ...
    torch.testing.assert_close(head(x), head.mlp(v))
    with pytest.raises(ValueError, match="t=2"):
        head(torch.randn(1, 3, 4, 5, 5))
