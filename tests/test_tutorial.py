"""The tutorial (docs/tutorial.md includes examples/tutorial_r3d.py): shapes, loss, gradients, training on tiny clips."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lifting_dfer import ISSM

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tutorial_r3d.py"
FRAMES, SIZE = 16, 32  # layer3: (b, 256, 4, 4, 4)


@pytest.fixture(scope="module")
def tutorial():
    spec = importlib.util.spec_from_file_location("tutorial_r3d", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def initial_model(tutorial):
    torch.manual_seed(0)
    return tutorial.R3DLifting(num_classes=7)


@pytest.fixture
def model(initial_model):
    """A fresh copy of the freshly initialised model (building R3D-18 costs about a second)."""
    return copy.deepcopy(initial_model)


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(1)
    clips = torch.randn(2, 3, FRAMES, SIZE, SIZE, generator=generator)
    return clips, torch.tensor([3, 5])


def grad_norm(params):
    return sum(p.grad.abs().sum().item() for p in params if p.grad is not None)


def test_stage_shapes_match_the_stride_table(tutorial):
    b, t0, size = 1, 16, 32
    shapes = tutorial.stage_shapes(torch.randn(b, 3, t0, size, size))
    assert shapes == {
        "stem": (b, 64, t0, size // 2, size // 2),
        "layer1": (b, 64, t0, size // 2, size // 2),
        "layer2": (b, 128, t0 // 2, size // 4, size // 4),
        "layer3": (b, 256, t0 // 4, size // 8, size // 8),
        "layer4": (b, 512, t0 // 8, size // 16, size // 16),
    }


def test_output_shapes_follow_r3d_strides(model, batch):
    model.eval()
    with torch.no_grad():
        out = model(batch[0])
    assert out.x.shape == (2, 256, FRAMES // 4, SIZE // 8, SIZE // 8)
    assert out.y_s.shape == (2, 256, FRAMES // 8, SIZE // 8, SIZE // 8)
    assert out.logits.shape == (2, 7)
    assert torch.isfinite(out.logits).all()


def test_issm_is_sized_by_the_first_clip_and_rejects_another_size(model, batch):
    model.eval()
    with torch.no_grad():
        model(batch[0])
        issm = model.issm
        assert type(issm) is ISSM and (issm.dim, issm.num_frames, issm.height, issm.width) == (256, 4, 4, 4)
        with pytest.raises(ValueError, match=r"x: expected shape 'b c t h w'.*h=4, w=4, got \(1, 256, 4, 6, 6\)"):
            model(torch.randn(1, 3, FRAMES, 48, 48))


def test_training_loss_is_cross_entropy_plus_lift_loss(tutorial, model, batch):
    clips, labels = batch
    model.eval()
    with torch.no_grad():
        out = model(clips)
        loss = tutorial.training_loss(out, labels)
    # Eqs. 8-9 by hand: frame-pair trend, mean over (c, t), Huber (delta 1) on the residual, weight 0.1.
    trend = (out.x[:, :, 0::2] + out.x[:, :, 1::2]) / 2
    residual = (out.y_s - trend).mean(dim=(1, 2))
    a = residual.abs()
    huber = torch.where(a < 1, 0.5 * a**2, a - 0.5).mean()
    torch.testing.assert_close(loss, F.cross_entropy(out.logits, labels) + 0.1 * huber)
    assert huber > 0  # the lift term is not trivially zero at initialisation


def test_gradients_reach_issm_ladm_and_backbone(tutorial, model, batch):
    clips, labels = batch
    model.train()
    issm, ladm = model.issm, model.ladm
    tutorial.training_loss(model(clips), labels).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ladm.parameters())
    assert grad_norm(model.backbone.parameters()) > 0
    assert grad_norm([issm.to_static.weight, issm.to_dynamic.weight]) > 0
    # W_S, W_D start at zero (the even/odd split), so the token branch of Eq. 1 gets exactly zero gradient
    # on the first step and a non-zero one once the offset layers have moved.
    token_branch = [*issm.conv.parameters(), *issm.to_token.parameters(), issm.token_bias, *issm.norm.parameters()]
    assert grad_norm(token_branch) == 0
    torch.optim.AdamW(model.parameters(), lr=1e-4).step()
    model.zero_grad(set_to_none=True)
    tutorial.training_loss(model(clips), labels).backward()
    assert grad_norm(token_branch) > 0


def test_training_decreases_the_loss_on_a_fixed_batch(tutorial, model, batch):
    clips, labels = batch
    losses = tutorial.train(model, clips, labels, steps=3)
    assert len(losses) == 3
    assert losses[-1] < 0.5 * losses[0]
    # ISSM starts from the even/odd split (indices 0, 2 for t = 4) and training moves its indices.
    with torch.no_grad():
        i_s, i_d = model.issm.indices(model.backbone(clips))
    assert not torch.equal(i_s, torch.tensor([[0.0, 2.0]] * 2))
    assert not torch.equal(i_d, torch.tensor([[1.0, 3.0]] * 2))


def test_script_prints_shapes_and_losses(tutorial, capsys):
    tutorial.main(["--frames", "8", "--size", "16", "--batch", "2", "--steps", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "stem: (2, 64, 8, 8, 8)"
    assert lines[3] == "layer3: (2, 256, 2, 2, 2)"
    assert lines[5] == "ISSM built for (c, t, h, w): (256, 2, 2, 2)"
    assert lines[6] == "X (b, c, t, h, w): (2, 256, 2, 2, 2)"
    assert lines[7] == "Y_S (b, c, z, h, w): (2, 256, 1, 2, 2)"
    assert lines[8] == "logits (b, k): (2, 7)"
    assert lines[9].startswith("loss per step: [") and lines[9].count(",") == 0
