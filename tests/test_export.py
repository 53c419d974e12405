"""Export to ONNX (run by onnxruntime) and TorchScript: layers and models against eager PyTorch, the sidecar,
``lifting-dfer export`` and :class:`OnnxRuntimeClassifier` (its errors included).

Exports are traced with a batch of 2 and run on batches of 1 and 3: the batch axis must stay dynamic. ONNX export
costs seconds per layer and tens of seconds per full model (``torch.export`` + onnxscript), so the tests export
the layers and the tiny IFDD-2DCNN checkpoint (through the command, once per test session even under xdist); the
other models are exported to ONNX at full size by ``python -m benchmarks.deploy`` (``docs/deployment.md``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import stat
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lifting_dfer import ISSM, LADM, LiftLoss, PyramidAggregation, create_model, model_from_checkpoint, save_checkpoint
from lifting_dfer.cli import main
from lifting_dfer.export import (
    ExportMetadata,
    Probabilities,
    export_onnx,
    export_torchscript,
    read_sidecar,
    sidecar_path,
)
from lifting_dfer.video import frames_to_clip

# torch 2.14 deprecates torch.jit.trace/save/load (FutureWarning); TorchScript export is still asked for and works
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:FutureWarning")

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-4
NAMES = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]
ARCH_KWARGS = {"num_classes": 7, "num_frames": 4, "image_size": 32}
SAMPLING = {"dataset": "dfew", "frames_per_clip": 4, "clip_seconds": 3.08, "fps": 1.2987}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: exports and small models gain nothing from two, and xdist runs two workers on 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def ort():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    return pytest.importorskip("onnxruntime")


def session(ort, path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def randomise(module: nn.Module) -> nn.Module:
    """Move zero-initialised weights (ISSM offsets, pooling scores) and BatchNorm statistics off their defaults,
    so that parity covers fractional frame positions and non-trivial normalisation."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 2.0, generator=generator)
    return module.eval()


class LayerCase:
    def __init__(self, module, make):
        self.module, self.make = randomise(module), make

    def inputs(self, b: int) -> tuple:
        torch.manual_seed(b)
        return self.make(b)


LAYERS = {
    "issm": lambda: LayerCase(ISSM(16, 8, 6, 6, compress=2), lambda b: (torch.randn(b, 16, 8, 6, 6),)),
    "ladm": lambda: LayerCase(
        LADM(16, heads=4, mlp_ratio=2.0), lambda b: (torch.randn(b, 16, 2, 3, 3), torch.randn(b, 16, 2, 3, 3))
    ),
    "pyramid": lambda: LayerCase(
        PyramidAggregation([4, 6, 8], 16),
        lambda b: ([torch.randn(b, c, 2, s, s) for c, s in ((4, 12), (6, 6), (8, 3))],),
    ),
    "liftloss": lambda: LayerCase(LiftLoss(), lambda b: (torch.randn(b, 8, 2, 3, 3), torch.randn(b, 8, 4, 3, 3))),
}

MODELS = {
    "ifdd_2dcnn": ({"num_frames": 4, "image_size": 32}, 32),
    "baseline_2dcnn": ({"num_frames": 4, "image_size": 32, "hidden": 16}, 32),
    "ifdd_3dvit": ({"num_frames": 4, "image_size": 64, "depths": (1, 1, 1, 1)}, 64),
    "baseline_3dvit": ({"num_frames": 4, "image_size": 64, "depths": (1, 1, 1, 1)}, 64),
}


def as_tuple(out) -> tuple:
    return out if isinstance(out, tuple) else (out,)


def assert_parity(eager: tuple, exported: tuple) -> None:
    assert len(eager) == len(exported)
    for e, x in zip(eager, exported):
        x = torch.as_tensor(x)
        assert x.shape == e.shape
        torch.testing.assert_close(x, e, rtol=0, atol=TOL)


# --------------------------------------------------------------------------------------------------- layers
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_to_onnx_and_matches_eager_at_two_batch_sizes(name, ort, tmp_path):
    case = LAYERS[name]()
    path = export_onnx(case.module, case.inputs(2), tmp_path / f"{name}.onnx")
    runtime = session(ort, path)
    for b in (1, 3):
        inputs = case.inputs(b)
        flat = [t for a in inputs for t in (a if isinstance(a, list) else [a])]
        feed = {i.name: t.numpy() for i, t in zip(runtime.get_inputs(), flat, strict=True)}
        with torch.no_grad():
            assert_parity(as_tuple(case.module(*inputs)), tuple(runtime.run(None, feed)))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_to_torchscript_and_matches_eager_at_two_batch_sizes(name, tmp_path):
    case = LAYERS[name]()
    path = export_torchscript(case.module, case.inputs(2), tmp_path / f"{name}.torchscript")
    loaded = torch.jit.load(str(path))
    for b in (1, 3):
        inputs = case.inputs(b)
        with torch.no_grad():
            assert_parity(as_tuple(case.module(*inputs)), as_tuple(loaded(*inputs)))


class SliceUpdate(nn.Module):
    """``attn[:, :, 1:, 1:] += rel`` (torchvision MViT's relative positions), or a strided update."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def forward(self, attn, rel):
        attn = attn.clone()
        if self.step == 1:
            attn[:, :, 1:, 1:] += rel
        else:
            attn[:, :, :: self.step] = rel
        return attn


@pytest.mark.parametrize(("step", "rel_shape", "concatenated"), [(1, (3, 5, 4), True), (2, (3, 3, 5), False)])
def test_slice_updates_export_as_concatenations_and_match_eager(step, rel_shape, concatenated, ort, tmp_path):
    onnx = pytest.importorskip("onnx")
    module = SliceUpdate(step)
    path = export_onnx(module, (torch.randn(2, 3, 6, 5), torch.randn(2, *rel_shape)), tmp_path / "update.onnx",
                       input_names=["attn", "rel"])  # fmt: skip
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ("ScatterND" not in ops and "Transpose" not in ops) == concatenated  # step 2: torchlib's translation
    runtime = session(ort, path)
    for b in (1, 3):
        attn, rel = torch.randn(b, 3, 6, 5), torch.randn(b, *rel_shape)
        assert_parity((module(attn, rel),), tuple(runtime.run(None, {"attn": attn.numpy(), "rel": rel.numpy()})))


def test_export_keeps_the_modules_training_modes(tmp_path):
    model = LADM(16, heads=4).train()
    model.predict.eval()
    export_torchscript(model, (torch.randn(2, 16, 2, 3, 3), torch.randn(2, 16, 2, 3, 3)), tmp_path / "m.ts")
    assert model.training and model.update.training and not model.predict.training


def test_onnx_export_needs_an_example_batch_of_two(ort, tmp_path):
    with pytest.raises(ValueError, match="batch of at least 2"):
        export_onnx(LiftLoss(), (torch.randn(1, 8, 2, 3, 3), torch.randn(1, 8, 4, 3, 3)), tmp_path / "l.onnx")
    with pytest.raises(ValueError, match="same batch size"):
        export_onnx(LiftLoss(), (torch.randn(2, 8, 2, 3, 3), torch.randn(3, 8, 4, 3, 3)), tmp_path / "l.onnx")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------------- models
@pytest.mark.parametrize("arch", sorted(MODELS))
def test_model_exports_to_torchscript_and_matches_eager_at_two_batch_sizes(arch, tmp_path):
    kwargs, size = MODELS[arch]
    model = Probabilities(randomise(create_model(arch, **kwargs)))
    torch.manual_seed(0)
    path = export_torchscript(model, (torch.randn(2, 3, 4, size, size),), tmp_path / f"{arch}.torchscript")
    loaded = torch.jit.load(str(path))
    for b in (1, 3):
        clip = torch.randn(b, 3, 4, size, size)
        with torch.no_grad():
            probabilities, logits = model(clip)
            assert_parity((probabilities, logits), loaded(clip))
        torch.testing.assert_close(probabilities.sum(-1), torch.ones(b))


# --------------------------------------------------------------------------------------------------- command
@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """A tiny IFDD-2DCNN checkpoint exported by ``lifting-dfer export`` (ONNX), once per session.

    Under pytest-xdist the workers share the folder: the first one exports under a file lock, the others reuse
    the files (pytest-xdist's recipe for session fixtures that must run once).
    """
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "lifting_dfer_export"
    root.mkdir(exist_ok=True)
    done = root / "stdout.txt"
    with FileLock(str(root / "lock")):
        if not done.exists():
            threads = torch.get_num_threads()  # session fixtures are set up before the function-scoped one_thread
            torch.set_num_threads(1)
            try:
                torch.manual_seed(0)
                model = randomise(create_model("ifdd_2dcnn", **ARCH_KWARGS))
                save_checkpoint(root / "tiny.pt", model, arch="ifdd_2dcnn", arch_kwargs=ARCH_KWARGS,
                                class_names=NAMES, epoch=7, sampling=SAMPLING)  # fmt: skip
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    argv = ["export", str(root / "tiny.pt"), "-o", str(root / "tiny.onnx"), "--batch", "3"]
                    assert main(argv) == 0
            finally:
                torch.set_num_threads(threads)
            done.write_text(out.getvalue())
    model, _ = model_from_checkpoint(root / "tiny.pt")
    return {"ckpt": root / "tiny.pt", "onnx": root / "tiny.onnx", "stdout": done.read_text(), "model": model}


def test_export_command_prints_what_it_wrote_and_the_parity(exported):
    lines = exported["stdout"].splitlines()
    onnx_path = exported["onnx"]
    assert lines[0] == f"ifdd_2dcnn from {exported['ckpt']}: 7 classes, 4 frames at 32x32 -> ONNX opset 20"
    assert lines[1].startswith(f"wrote {onnx_path} (") and lines[1].endswith(" MB)")
    assert lines[2] == f"wrote {onnx_path}.json"
    assert lines[3].startswith("verified on random clips (batches of 3 and 1): max |p_onnx - p_pytorch| = ")
    assert lines[3].endswith("(ok)") and len(lines) == 4


def test_exported_graph_has_named_inputs_outputs_and_a_symbolic_batch_axis(exported):
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(exported["onnx"])).graph
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*graph.input, *graph.output)}  # fmt: skip
    assert shapes == {"clip": ["batch", 3, 4, 32, 32], "probabilities": ["batch", 7], "logits": ["batch", 7]}


def test_sidecar_holds_what_a_consumer_needs(exported):
    from lifting_dfer.data.transforms import IMAGENET_MEAN, IMAGENET_STD
    from lifting_dfer.export import file_sha256

    record = json.loads(sidecar_path(exported["onnx"]).read_text())
    assert record["format"] == "lifting_dfer.export/1"
    assert record["model_file"] == "tiny.onnx" and record["model_format"] == "onnx"
    assert record["sha256"] == file_sha256(exported["onnx"])
    assert record["class_names"] == NAMES and record["arch"] == "ifdd_2dcnn"
    assert (record["num_frames"], record["input_size"]) == (4, 32)
    assert record["input_name"] == "clip" and record["input_shape"] == ["batch", 3, 4, 32, 32]
    assert record["output_names"] == ["probabilities", "logits"]
    assert record["mean"] == list(IMAGENET_MEAN) and record["std"] == list(IMAGENET_STD)
    assert record["sampling"] == SAMPLING and record["checkpoint"] == {"file": "tiny.pt", "epoch": 7}
    assert record["opset"] == 20 and record["arch_kwargs"] == ARCH_KWARGS
    assert record["verification"]["batch_sizes"] == [3, 1] and 0 <= record["verification"]["max_abs_diff"] <= TOL
    assert ExportMetadata.from_dict(record).to_dict() == record


def test_exported_onnx_matches_the_checkpoint_model_at_two_batch_sizes(exported, ort):
    from lifting_dfer.export import OnnxRuntimeClassifier

    classifier = OnnxRuntimeClassifier(exported["onnx"], threads=1)
    session = classifier.session
    model = exported["model"]
    for b in (1, 4):
        clip = torch.randn(b, 3, 4, 32, 32)
        with torch.no_grad():
            logits = model(clip)
        probabilities, raw_logits = session.run(["probabilities", "logits"], {"clip": clip.numpy()})
        assert_parity((logits.softmax(-1), logits), (probabilities, raw_logits))
        torch.testing.assert_close(torch.as_tensor(classifier.predict(clip)), logits.softmax(-1), rtol=0, atol=TOL)
        np.testing.assert_array_equal(classifier.predict(clip.numpy()), probabilities)


def test_runtime_gives_the_checkpoint_metadata(exported, ort):
    from lifting_dfer.cli import checkpoint_geometry
    from lifting_dfer.export import OnnxRuntimeClassifier

    ckpt = torch.load(exported["ckpt"], weights_only=True)
    classifier = OnnxRuntimeClassifier(exported["onnx"], threads=1)
    assert list(classifier.class_names) == ckpt["class_names"]
    assert (classifier.num_frames, classifier.input_size) == checkpoint_geometry(ckpt)
    assert classifier.sampling == ckpt["sampling"] and classifier.arch == ckpt["arch"]
    assert classifier.mean == (0.485, 0.456, 0.406) and classifier.std == (0.229, 0.224, 0.225)
    assert "num_frames=4, input_size=32" in repr(classifier)


def test_runtime_checks_window_shapes_and_handles_an_empty_batch(exported, ort):
    from lifting_dfer.export import OnnxRuntimeClassifier

    classifier = OnnxRuntimeClassifier(exported["onnx"], threads=1)
    for bad in (torch.randn(2, 3, 8, 32, 32), torch.randn(2, 3, 4, 64, 64), torch.randn(3, 4, 32, 32)):
        with pytest.raises(ValueError, match=r"windows: expected shape 'b c t h w' with c=3, t=4, h=32, w=32"):
            classifier.predict(bad)
    with pytest.raises(TypeError, match="floating-point"):
        classifier.predict(np.zeros((1, 3, 4, 32, 32), np.uint8))
    assert classifier.predict(np.zeros((0, 3, 4, 32, 32), np.float32)).shape == (0, 7)


def test_runtime_errors_name_the_file(exported, ort, tmp_path):
    from lifting_dfer.export import OnnxRuntimeClassifier

    onnx_path, sidecar = exported["onnx"], sidecar_path(exported["onnx"])
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(onnx_path.read_bytes()[: onnx_path.stat().st_size // 2])
    not_onnx = tmp_path / "checkpoint.onnx"
    shutil.copy(exported["ckpt"], not_onnx)
    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n")
    for path in (truncated, not_onnx, text):
        shutil.copy(sidecar, sidecar_path(path))
        with pytest.raises(ValueError, match=rf"{path} is not a readable ONNX model \(corrupt"):
            OnnxRuntimeClassifier(path)
    with pytest.raises(FileNotFoundError, match=r"ONNX model .*missing.onnx does not exist"):
        OnnxRuntimeClassifier(tmp_path / "missing.onnx")

    alone = tmp_path / "alone.onnx"
    shutil.copy(onnx_path, alone)
    with pytest.raises(FileNotFoundError, match=rf"no sidecar for {alone}: {alone}.json does not exist"):
        OnnxRuntimeClassifier(alone)
    sidecar_path(alone).write_text("{not json")
    with pytest.raises(ValueError, match=rf"sidecar {alone}.json is not valid JSON"):
        OnnxRuntimeClassifier(alone)
    record = json.loads(sidecar.read_text())
    for change, message in (
        ({"format": "something/2"}, "expected format 'lifting_dfer.export/1'"),
        ({"num_frames": 0}, "invalid 'num_frames'"),
        ({"std": [0.2, 0.0, 0.2]}, "invalid 'std'"),
        ({"sha256": "0" * 64}, rf"does not describe {alone} \(SHA-256 differs"),
        ({"num_frames": 8}, "disagree: the graph takes"),
        ({"class_names": NAMES[:5]}, "the sidecar names 5 classes"),
        ({"model_format": "torchscript"}, "describes a torchscript export, not ONNX"),
    ):
        sidecar_path(alone).write_text(json.dumps({**record, **change}))
        with pytest.raises(ValueError, match=message) as info:
            OnnxRuntimeClassifier(alone)
        assert str(alone) in str(info.value)
    del record["class_names"]
    sidecar_path(alone).write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"missing fields \['class_names'\]"):
        read_sidecar(alone)


def test_consumer_example_without_torch_matches_the_model(exported, ort):
    spec = importlib.util.spec_from_file_location("onnx_consumer", ROOT / "examples" / "onnx_consumer.py")
    consumer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(consumer)
    frames = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    session, meta = consumer.load(str(exported["onnx"]))
    probabilities = consumer.classify(session, meta, frames)
    with torch.no_grad():
        expected = exported["model"](frames_to_clip(frames)[None]).softmax(-1)[0]
    assert list(probabilities) == NAMES
    np.testing.assert_allclose(list(probabilities.values()), expected.numpy(), rtol=0, atol=TOL)
    with pytest.raises(ValueError, match=r"frames: expected \(4, 32, 32, 3\) uint8 RGB"):
        consumer.classify(session, meta, frames[:3])


def test_export_command_writes_torchscript_with_sidecar(exported, tmp_path, capsys):
    out = tmp_path / "tiny.torchscript"
    assert main(["export", str(exported["ckpt"]), "--format", "torchscript", "-o", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert "-> TorchScript" in stdout and "max |p_torchscript - p_pytorch| = " in stdout
    assert "TorchScript is deprecated in PyTorch" in stderr and "Traceback" not in stderr
    meta = read_sidecar(out)
    assert meta.model_format == "torchscript" and meta.opset is None and meta.class_names == tuple(NAMES)
    assert meta.verification["batch_sizes"] == [2, 1] and meta.verification["max_abs_diff"] <= TOL


def test_export_command_refuses_what_it_cannot_export_in_one_line(exported, tmp_path, capsys):
    ckpt = torch.load(exported["ckpt"], weights_only=True)
    unknown = tmp_path / "unknown.pt"
    torch.save({**ckpt, "arch": "ifdd_4dcnn"}, unknown)
    mismatched = tmp_path / "mismatched.pt"
    torch.save({**ckpt, "arch_kwargs": {**ckpt["arch_kwargs"], "num_classes": 5}, "class_names": NAMES[:5]},
               mismatched)  # fmt: skip
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    cases = (
        ([str(tmp_path / "missing.pt")], "missing.pt does not exist"),
        ([str(text)], "not a readable PyTorch file"),
        ([str(unknown)], "holds model 'ifdd_4dcnn'; known models"),
        ([str(mismatched)], "does not fit IFDD"),
        ([str(exported["ckpt"]), "--batch", "1"], "batch: expected at least 2 clips for --format onnx"),
        ([str(exported["ckpt"]), "-o", str(exported["ckpt"])], "is the checkpoint itself"),
    )
    for argv, message in cases:
        assert main(["export", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("lifting-dfer export: error: ") and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mismatched.pt", "notes.pt", "unknown.pt"]


def test_export_command_without_the_onnx_extra_names_it(monkeypatch, tmp_path, capsys):
    model = create_model("ifdd_2dcnn", **ARCH_KWARGS)
    save_checkpoint(tmp_path / "m.pt", model, arch="ifdd_2dcnn", arch_kwargs=ARCH_KWARGS, class_names=NAMES)
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript now raises ImportError
    assert main(["export", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "lifting-dfer export: error: onnxscript (onnxscript) is needed here: pip install 'lifting_dfer[onnx]'"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_deploy_benchmark_times_each_backend_on_the_same_window(exported, ort, tmp_path):
    if str(ROOT) not in sys.path:  # benchmarks/ is a top-level folder, not part of the installed package
        sys.path.insert(0, str(ROOT))
    from benchmarks.deploy import table, time_windows, window_backends

    torchscript = export_torchscript(Probabilities(exported["model"]), (torch.randn(2, 3, 4, 32, 32),),
                                     tmp_path / "m.torchscript")  # fmt: skip
    backends = window_backends(exported["model"], onnx_path=exported["onnx"], torchscript_path=torchscript, threads=1)
    clip = torch.randn(1, 3, 4, 32, 32)
    outputs = {name: fn(clip) for name, fn in backends.items()}
    assert list(outputs) == ["pytorch", "onnxruntime", "torchscript"]
    for name in ("onnxruntime", "torchscript"):
        torch.testing.assert_close(outputs[name], outputs["pytorch"], rtol=0, atol=TOL)
    timings = time_windows(backends, clip, rounds=1, min_run_time=0.01)
    assert set(timings) == set(backends) and all(t.median > 0 for t in timings.values())
    record = {"model": "ifdd_2dcnn", "exports": {"onnx": {"export_s": 12.0, "max_abs_diff": 1e-7}},
              "timings": {k: {"median_s": t.median, "iqr_s": t.iqr} for k, t in timings.items()}}  # fmt: skip
    rows = table([record]).splitlines()[2:]
    assert [r.split(" | ")[1] for r in rows] == ["pytorch", "onnxruntime", "torchscript"]
    assert rows[1].endswith("| 1.0e-07 | 12 |") and rows[0].split(" | ")[4] == "1.00x"


# ------------------------------------------------------------------------------------- predict --backend onnxruntime
def _predict(argv, capsys) -> tuple[int, list[str], list[str]]:
    status = main(["predict", *argv])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err.strip().splitlines()


def test_predict_with_the_onnx_file_writes_what_the_checkpoint_writes(exported, ort, encode_video, tmp_path, capsys):
    pytest.importorskip("cv2")
    frames = np.random.default_rng(0).integers(0, 256, (12, 40, 48, 3), dtype=np.uint8)
    video = encode_video(tmp_path / "clip.mkv", frames)
    common = [str(video), "--fps", "native", "--no-face-detect", "--no-plot", "--device", "cpu"]
    runs = {
        "pytorch": ["--checkpoint", str(exported["ckpt"]), "--precision", "fp32"],
        "onnxruntime": ["--checkpoint", str(exported["onnx"])],  # the backend follows from the suffix
    }
    results = {}
    for name, argv in runs.items():
        out = tmp_path / name
        status, lines, _ = _predict([*common, *argv, "--output-dir", str(out)], capsys)
        assert status == 0, lines
        results[name] = json.loads((out / "clip.json").read_text())
        results[name]["csv_header"] = (out / "clip.csv").read_text().splitlines()[0]
    torch_result, onnx_result = results["pytorch"], results["onnxruntime"]
    assert (onnx_result["backend"], onnx_result["precision"], torch_result["backend"]) == ("onnxruntime", "fp32",
                                                                                           "pytorch")  # fmt: skip
    assert set(onnx_result) == set(torch_result) and onnx_result["csv_header"] == torch_result["csv_header"]
    assert onnx_result["arch"] == torch_result["arch"] == "ifdd_2dcnn"
    for key in ("class_names", "fps", "num_frames", "face_detection", "sampling"):
        assert onnx_result[key] == torch_result[key], key
    spans = [(w["start_frame"], w["end_frame"]) for w in onnx_result["windows"]]
    assert spans == [(w["start_frame"], w["end_frame"]) for w in torch_result["windows"]] and len(spans) == 5
    p_onnx, p_torch = (torch.tensor([[w["probabilities"][n] for n in NAMES] for w in r["windows"]])
                       for r in (onnx_result, torch_result))  # fmt: skip
    torch.testing.assert_close(p_onnx, p_torch, rtol=0, atol=TOL)


def test_predict_with_a_corrupt_or_foreign_onnx_file_says_so_in_one_line(exported, ort, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"never read: the model is loaded first")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(exported["onnx"].read_bytes()[:4096])
    shutil.copy(sidecar_path(exported["onnx"]), sidecar_path(corrupt))
    lonely = tmp_path / "lonely.onnx"
    shutil.copy(exported["onnx"], lonely)
    cases = [
        ([str(video), "--checkpoint", str(corrupt)], f"{corrupt} is not a readable ONNX model (corrupt"),
        ([str(video), "--checkpoint", str(exported["ckpt"]), "--backend", "onnxruntime"],
         f"{exported['ckpt']} looks like a PyTorch checkpoint: use --backend pytorch"),
        ([str(video), "--checkpoint", str(lonely)], f"no sidecar for {lonely}"),
        ([str(video), "--checkpoint", str(exported["onnx"]), "--precision", "bf16"],
         "the onnxruntime backend runs the exported float32 graph; expected fp32 or auto, got 'bf16'"),
    ]  # fmt: skip
    for argv, message in cases:
        status, _, err = _predict([*argv, "--output-dir", str(tmp_path / "out")], capsys)
        assert status == 2 and len(err) == 1 and err[0].startswith("lifting-dfer predict: error: "), err
        assert message in err[0], err


def test_predict_with_a_torchscript_export_names_what_to_pass_instead(tmp_path, capsys):
    """A TorchScript export is for deployment: predict says so in one line, before reading the video or the file."""
    video, script = tmp_path / "clip.mp4", tmp_path / "model.torchscript"
    video.write_bytes(b"never read")
    script.write_bytes(b"never read either")
    status, _, err = _predict([str(video), "--checkpoint", str(script), "--output-dir", str(tmp_path / "out")], capsys)
    assert status == 2 and len(err) == 1, err
    assert err[0] == (
        f"lifting-dfer predict: error: --checkpoint: {script} is a TorchScript export, for deployment "
        "(torch.jit.load, LibTorch); predict runs the checkpoint it was exported from, or its ONNX export "
        "(lifting-dfer export CKPT)"
    )


def test_exported_files_are_readable_by_others_as_the_umask_allows(exported):
    umask = os.umask(0)
    os.umask(umask)
    for path in (exported["onnx"], sidecar_path(exported["onnx"])):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_an_unverified_or_failed_export_warns_when_loaded(exported, ort, tmp_path):
    from lifting_dfer.export import OnnxRuntimeClassifier

    copy = tmp_path / "copy.onnx"
    shutil.copy(exported["onnx"], copy)
    record = json.loads(sidecar_path(exported["onnx"]).read_text())
    cases = ((None, "was never verified"), ({"max_abs_diff": 0.3}, "differed from PyTorch by 0.3"))
    for verification, message in cases:
        sidecar_path(copy).write_text(json.dumps({**record, "verification": verification}))
        with pytest.warns(UserWarning, match=message):
            OnnxRuntimeClassifier(copy)
    shutil.copy(sidecar_path(exported["onnx"]), sidecar_path(copy))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OnnxRuntimeClassifier(copy)


def test_an_exporter_failure_is_one_line(exported, monkeypatch, tmp_path, capsys):
    from lifting_dfer.export import checkpoint_export

    def fail(*args, **kwargs):
        raise RuntimeError("Failed to export the model with torch.export.\n\nhundreds of lines of graph follow")

    monkeypatch.setattr(checkpoint_export, "export_torchscript", fail)
    assert main(["export", str(exported["ckpt"]), "--format", "torchscript", "-o", str(tmp_path / "m.ts")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lifting-dfer export: error: {exported['ckpt']}: torchscript export failed: Failed to export the "
                   "model with torch.export."]  # fmt: skip


def test_onnxruntime_backend_picks_its_device(monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    from lifting_dfer.video import onnx_backend

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert onnx_backend.default_device() == "cpu"
    with pytest.raises(ValueError, match="cuda:1 needs onnxruntime with CUDA"):
        onnx_backend._providers("cuda:1")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnx_backend._providers("cuda:1")[0] == ("CUDAExecutionProvider", {"device_id": 1})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert onnx_backend.default_device() == "cuda"
