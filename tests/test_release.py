"""The release layer: version, licence and typing marker in the built files, a light import, torch.hub, small fixes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import torch

import lifting_dfer
from lifting_dfer.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_version_comes_from_the_installed_metadata(capsys):
    assert lifting_dfer.__version__ == metadata.version("lifting_dfer")
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"lifting-dfer {metadata.version('lifting_dfer')}"


def test_the_version_is_written_once_in_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == metadata.version("lifting_dfer"), "reinstall (pip install -e .) after a bump"
    init = (ROOT / "src" / "lifting_dfer" / "__init__.py").read_text()
    assert project["version"] not in init


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The wheel and the sdist, built by setuptools' PEP 517 hooks from a copy of the files they read (the same
    backend ``pip wheel`` and ``python -m build`` call, without build isolation, so without the network; a copy, so
    that build/ and egg-info never land in the working tree while other tests run)."""
    pytest.importorskip("setuptools", minversion="77")
    work = tmp_path_factory.mktemp("build")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "CITATION.cff", "hubconf.py"):
        shutil.copy2(ROOT / name, work / name)
    for name in ("src", "examples", "tests"):
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    (work / "docs").mkdir()
    shutil.copy2(ROOT / "docs" / "changelog.md", work / "docs" / "changelog.md")
    script = "from setuptools import build_meta as b; w = b.build_wheel('dist'); s = b.build_sdist('dist'); print('BUILT', w, s)"
    out = subprocess.run([sys.executable, "-c", script], cwd=work, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    wheel, sdist = next(line for line in out.stdout.splitlines() if line.startswith("BUILT ")).split()[1:]
    return work / "dist" / wheel, work / "dist" / sdist


def test_the_wheel_carries_license_py_typed_and_spdx_metadata(built):
    wheel, _ = built
    version = metadata.version("lifting_dfer")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"lifting_dfer-{version}.dist-info"
        assert "lifting_dfer/py.typed" in names
        assert f"{info}/licenses/LICENSE" in names
        assert archive.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        meta = archive.read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta
    assert "Classifier: Typing :: Typed" in meta and "Classifier: Programming Language :: Python :: 3.10" in meta
    for requirement in ("huggingface_hub", "safetensors", "pillow"):
        assert f"Requires-Dist: {requirement}" in meta
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)


def test_the_sdist_leaves_tests_out_and_keeps_the_licence_and_examples(built):
    _, sdist = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CITATION.cff", "hubconf.py", "examples/train_dfew.py", "src/lifting_dfer/py.typed"} <= names
    assert not any(name.startswith("tests") for name in names), "the suite needs the whole repository: no tests"


def test_citation_file_matches_the_release():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    assert str(cff["version"]) == metadata.version("lifting_dfer")
    paper = cff["preferred-citation"]
    assert [a["family-names"] for a in paper["authors"]] == ["Wang", "Chai"]
    assert paper["year"] == 2025 and "2412.13168" in paper["url"]


def test_changelog_has_a_section_for_this_version():
    text = (ROOT / "docs" / "changelog.md").read_text()
    assert f"\n## {metadata.version('lifting_dfer')}" in text and "\n## 0.1.0" in text


LIGHT = textwrap.dedent(
    """
    import json, sys, torch
    import lifting_dfer as L
    x = torch.randn(2, 16, 8, 7, 7)
    x_s, x_d = L.ISSM(16, num_frames=8, height=7, width=7)(x)
    y_s, y_d = L.LADM(16, heads=4)(x_s, x_d)
    L.LazyISSM()(x)
    L.interpolate_frames(x, torch.rand(2, 4) * 7)
    L.PyramidAggregation([8, 16], 16)([torch.randn(2, 8, 8, 14, 14), x])
    L.LiftLoss()(y_s, x).backward()
    before = sorted(m for m in ("timm", "torchvision") if m in sys.modules)
    L.ifdd_2dcnn(num_frames=4, image_size=64)
    after = sorted(m for m in ("timm", "torchvision") if m in sys.modules)
    print(json.dumps([before, after]))
    """
)


def test_the_package_and_its_layers_do_not_import_timm_or_torchvision():
    out = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    before, after = json.loads(out.stdout.splitlines()[-1])
    assert before == []
    assert "timm" in after, "the check sees timm once a backbone is built"


def test_torch_hub_builds_a_model_from_a_local_clone():
    model = torch.hub.load(str(ROOT), "ifdd_2dcnn", source="local", num_classes=7, num_frames=8)
    assert isinstance(model, lifting_dfer.IFDD)
    assert model.lifting_dfer_config["arch_kwargs"] == {"num_classes": 7, "num_frames": 8}
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 8, 224, 224)).shape == (1, 7)


def test_torch_hub_entry_point_loads_a_saved_folder(tmp_path):
    model = lifting_dfer.ifdd_2dcnn(num_classes=2, num_frames=4, image_size=64).eval()
    folder = lifting_dfer.save_pretrained(model, tmp_path / "m", class_names=["a", "b"])
    again = torch.hub.load(str(ROOT), "from_pretrained", str(folder), source="local")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        (None, ["baseline_2dcnn", "baseline_3dvit", "ifdd_2dcnn", "ifdd_3dvit", "ifdd_3dvit_authors"]),
        ("ifdd*", ["ifdd_2dcnn", "ifdd_3dvit", "ifdd_3dvit_authors"]),
        ("*3dvit", ["baseline_3dvit", "ifdd_3dvit"]),
        ("ifdd_?dcnn", ["ifdd_2dcnn"]),
        ("IFDD*", []),  # case-sensitive, as the names are
        ("resnet*", []),
    ],
)
def test_list_models_filters_by_fnmatch_pattern(pattern, names):
    assert lifting_dfer.list_models(pattern) == names


def test_list_models_refuses_a_non_string_pattern():
    with pytest.raises(TypeError, match="pattern: expected an fnmatch pattern"):
        lifting_dfer.list_models(3)


def test_train_without_arguments_prints_its_usage_and_starts_nothing(tmp_path, monkeypatch, capsys):
    import lifting_dfer.training as training

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(training, "main", lambda argv: pytest.fail("the training code ran"))
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: lifting-dfer train [-h]") and "--demo for the synthetic CPU demo" in err
    assert list(tmp_path.iterdir()) == []


def test_train_demo_flag_still_reaches_the_training_code(monkeypatch):
    import lifting_dfer.training as training

    calls = []
    monkeypatch.setattr(training, "main", lambda argv: calls.append(argv) or 0)
    assert main(["train", "--demo"]) == 0 and calls == [["--demo"]]


def test_the_examples_error_says_where_the_examples_are(capsys):
    from lifting_dfer.training import config_from_args

    with pytest.raises(SystemExit):
        config_from_args(["--dataset", "mafw"])
    err = capsys.readouterr().err
    assert "lifting-dfer train --demo runs the demo" in err
    assert "examples/ folder is in the source repository and the sdist, not in the installed wheel" in err
