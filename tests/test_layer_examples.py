"""The recipes next to the R3D tutorial (docs/your-model.md): a timm ViT per frame (tokens) and Swin3D (channels last).

Each model is checked against the same computation written in ISSM's and LADM's canonical layout, for gradients
reaching the backbone and both layers, for learning a fixed batch, and for what its script prints.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch
from doc_pages import same_output
from einops import rearrange, reduce

from lifting_dfer import ISSM, LADM

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FRAMES, SIZE = 4, 32


def load_example(name):
    """Import ``examples/<name>.py`` as its script does (with examples/ on the path, for ``tutorial_r3d``)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


@pytest.fixture(scope="module")
def vit_example():
    return load_example("vit_per_frame")


@pytest.fixture(scope="module")
def swin_example():
    return load_example("swin3d_channels_last")


@pytest.fixture(scope="module")
def tutorial():
    return load_example("tutorial_r3d")


@pytest.fixture(scope="module")
def built(vit_example, swin_example):
    """One freshly initialised model of each recipe (Swin3D-T takes a second to build); tests take copies."""
    torch.manual_seed(0)
    return {
        "vit": vit_example.ViTLifting(num_classes=7, num_frames=FRAMES, image_size=SIZE, depth=2),
        "swin": swin_example.SwinLifting(num_classes=7),
    }


@pytest.fixture
def clips():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, FRAMES, SIZE, SIZE, generator=generator), torch.tensor([2, 6])


def canonical_head(model, x):
    """ISSM and LADM of ``model``, with its weights, in their canonical layouts on ``x: (b, c, t, h, w)``."""
    issm = ISSM(
        model.issm.dim, model.issm.num_frames, model.issm.height, model.issm.width, compress=model.issm.compress
    )
    ladm = LADM(model.ladm.dim, heads=model.ladm.heads)
    issm.load_state_dict(model.issm.state_dict())
    ladm.load_state_dict(model.ladm.state_dict())
    y_s, y_d = ladm(*issm(x))
    return y_s, model.head(reduce(y_d, "b c z h w -> b c", "mean"))


@pytest.mark.parametrize(
    ("name", "to_canonical"),
    [("vit", "(b t) (h w) c -> b c t h w"), ("swin", "b t h w c -> b c t h w")],
)
def test_layers_in_the_backbones_layout_compute_what_the_canonical_layout_does(built, clips, name, to_canonical):
    model = copy.deepcopy(built[name]).eval()
    with torch.no_grad():
        out = model(clips[0])
        features = model.features(clips[0])
        sizes = {"t": FRAMES, "h": model.grid_h} if name == "vit" else {}
        x = rearrange(features, to_canonical, **sizes)
        y_s, logits = canonical_head(model, x)
    torch.testing.assert_close(out.x, x)
    torch.testing.assert_close(out.y_s, y_s)
    torch.testing.assert_close(out.logits, logits)
    assert torch.isfinite(out.logits).all()


def test_vit_tokens_keep_every_frame_and_swin_halves_time(built, clips):
    vit, swin = copy.deepcopy(built["vit"]), copy.deepcopy(built["swin"])
    with torch.no_grad():
        assert vit.features(clips[0]).shape == (2 * FRAMES, 4, 192)  # 32 px / 16 px patches: a 2 x 2 grid
        assert swin.features(clips[0]).shape == (2, FRAMES // 2, 2, 2, 384)
        vit(clips[0]), swin(clips[0])
    assert (vit.issm.dim, vit.issm.num_frames, vit.issm.height, vit.issm.width) == (192, FRAMES, 2, 2)
    assert (swin.issm.dim, swin.issm.num_frames, swin.issm.height, swin.issm.width) == (384, FRAMES // 2, 2, 2)
    with pytest.raises(
        ValueError, match=r"x: expected shape 'b t h w c' with c=384, t=2, h=2, w=2, got \(1, 2, 4, 4, 384\)"
    ):
        swin(torch.randn(1, 3, FRAMES, 2 * SIZE, 2 * SIZE))


@pytest.mark.parametrize("name", ["vit", "swin"])
def test_gradients_reach_every_part_and_training_learns_a_fixed_batch(tutorial, built, clips, name):
    model = copy.deepcopy(built[name])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)  # made before the first clip sizes ISSM
    loss = tutorial.training_loss(model(clips[0]), clips[1])
    loss.backward()
    # ISSM starts at the even/odd split, where only its offset layers get a gradient (and with t = 2, Swin's case
    # here, both positions of the split sit on the ends of the clamp: none)
    backbone = model.vit if name == "vit" else model.backbone
    for part in (backbone, model.ladm, *([model.issm.to_static] if name == "vit" else [])):
        assert sum(p.grad.abs().sum() for p in part.parameters()) > 0, part
    optimizer.step()
    assert tutorial.training_loss(model(clips[0]), clips[1]).item() < loss.item()


@pytest.mark.parametrize(
    ("name", "argv", "first"),
    [
        ("vit_per_frame", ["--depth", "1"], "backbone output '(b t) (h w) c': (8, 4, 192)"),
        ("swin3d_channels_last", ["--steps", "0"], "backbone output 'b t h w c': (2, 2, 2, 2, 384)"),
    ],
)
def test_scripts_print_shapes_and_losses(name, argv, first, capsys):
    load_example(name).main(["--frames", str(FRAMES), "--size", str(SIZE), "--batch", "2", "--steps", "1", *argv])
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 1
    lines = capsys.readouterr().out.splitlines()
    z = FRAMES // 2 if name.startswith("vit") else FRAMES // 4
    assert lines[0] == first
    assert lines[1].startswith("ISSM built for (c, t, h, w): (")
    assert lines[3].startswith("Y_S (b, c, z, h, w): (2, ") and lines[3].endswith(f", {z}, 2, 2)")
    assert lines[4] == "logits (b, k): (2, 7)"
    losses = lines[5].removeprefix("loss per step: [").removesuffix("]")
    assert len(losses.split(",")) == steps if steps else losses == ""


def _page_output(page: str, tab: str) -> str:
    """The ``text`` block of ``tab`` in the tabs that show what the scripts print on ``page``."""
    text = (EXAMPLES.parent / "docs" / page).read_text()
    block = re.search(rf'=== "{re.escape(tab)}"\n\n    ```text\n(.*?)\n    ```', text, re.S)
    assert block, f"{page}: no output tab {tab!r}"
    return "\n".join(line.removeprefix("    ") for line in block.group(1).splitlines())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "tab"), [("vit_per_frame", "ViT per frame (tokens)"), ("swin3d_channels_last", "Swin3D (channels last)")]
)
def test_scripts_print_what_the_page_shows(name, tab, capsys):
    """docs/your-model.md shows each script's output at its default settings; the losses to their last digit."""
    load_example(name).main([])
    assert same_output(capsys.readouterr().out, _page_output("your-model.md", tab))


def test_r3d_output_on_the_page_is_the_tutorials():
    """The R3D tab shows what the tutorial page shows (tests/test_docs_blocks.py runs and compares that one)."""
    tutorial = (EXAMPLES.parent / "docs" / "tutorial.md").read_text()
    shown = re.search(r"<!-- output -->\n```text\n(stem:.*?)\n```", tutorial, re.S).group(1)
    assert _page_output("your-model.md", "R3D-18") == shown
