"""The `baa` command: JSON on stdout, one line and exit 2 on bad input, nothing half-written."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from baa.cli import main


def run(*args, cwd=None, env=None):
    p = subprocess.run([sys.executable, "-m", "baa", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)
    return p.returncode, p.stdout, p.stderr


def _one_line_error(code, err):
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ph") / "set"
    code, stdout, err = run("phantom", "--n", 12, "--size", 64, "--seed", 3, "--out", out, "--quiet")
    assert code == 0, err
    return out


def test_phantom_then_data_round_trip(phantom_dir):
    code, out, err = run("data", phantom_dir, "--format", "rsna")
    assert code == 0, err
    s = json.loads(out)
    assert s["n"] == 12 and s["problems"] == []
    assert 0 <= s["age_years"]["min"] <= s["age_years"]["max"] <= 20
    assert s["sex"]["male"] + s["sex"]["female"] == 12


def test_data_missing_columns_is_one_line(tmp_path):
    (tmp_path / "boneage-training-dataset.csv").write_text("id,age\n1,12\n")
    (tmp_path / "boneage-training-dataset").mkdir()
    code, _, err = run("data", tmp_path, "--format", "rsna")
    _one_line_error(code, err)
    assert "boneage-training-dataset.csv" in err


def test_data_missing_folder(tmp_path):
    code, _, err = run("data", tmp_path / "nope", "--format", "rsna")
    _one_line_error(code, err)


def test_degrade_writes_image_and_is_seeded(tmp_path):
    img = (np.linspace(0, 1, 64 * 64).reshape(64, 64) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "in.png")
    for name in ("a.png", "b.png"):
        code, _, err = run("degrade", tmp_path / "in.png", tmp_path / name, "--kind", "all", "--seed", 5)
        assert code == 0, err
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("a.png", "b.png"))
    assert a.shape == (64, 64) and np.array_equal(a, b) and not np.array_equal(a, img)


def test_degrade_bad_input_leaves_nothing(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    code, _, err = run("degrade", tmp_path / "bad.png", tmp_path / "out.png", "--kind", "noise")
    _one_line_error(code, err)
    assert "bad.png" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.png"]


def test_evaluate_without_checkpoints_says_how(tmp_path, phantom_dir, monkeypatch, capsys):
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path / "none"))
    code = main(["evaluate", "--data", str(phantom_dir), "--profile", "smoke", "--pipeline", "dq"])
    err = capsys.readouterr().err
    assert code == 2 and "make book" in err and len(err.strip().splitlines()) == 1


def test_train_and_evaluate_round_trip(tmp_path, phantom_dir, capsys):
    ckpt = tmp_path / "bonet.pt"
    assert main(["train", "--data", str(phantom_dir), "--profile", "smoke", "--epochs", "1", "--out", str(ckpt), "--quiet"]) == 0
    assert ckpt.exists()
    capsys.readouterr()
    assert main(["evaluate", "--data", str(phantom_dir), "--profile", "smoke", "--checkpoint", str(ckpt),
                 "--pipeline", "plain", "--degrade", "noise"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 12 and res["mae"] >= res["mdae"] * 0 and len(res["ccs"]["counts"]) == 31
