"""The phantom's difficulty: the floor a perfect stage reader meets leaves room for the paper's
0.6-0.9 y, is set by the timing scatter, and a linear read-out of the image stays above 1 y."""

from __future__ import annotations

import json
import math
from dataclasses import replace

from baa import paper
import baa.experiments.calibrate as calibrate
import baa.experiments.phantom_baselines as phantom_baselines
from baa.cli import main
from baa.experiments.calibrate import cnn_mae, stage_reader_mae
from baa.experiments.phantom_baselines import linear_baseline_mae
from baa.phantom.anatomy import PhantomConfig


def test_stage_reader_floor_leaves_room_for_the_papers_range():
    r = stage_reader_mae(n_train=3000, n_test=1000, epochs=30)
    best_paper = min(paper.TABLE3.values())  # BoNet+ with L_MAE: 0.76 y
    assert r["label_noise"] < r["mae_label"] < best_paper - 0.15
    assert r["mae_bone_age"] < r["mae_label"]  # the label's reader noise adds to the error
    assert r["by_age"]["0-2"] < r["by_age"]["14-17"]  # weeks matter in infants, years in teenagers


def test_timing_scatter_sets_the_floor():
    base = PhantomConfig(size=16)
    lo = stage_reader_mae(n_train=2000, n_test=800, epochs=30, config=base)["mae_label"]
    hi = stage_reader_mae(n_train=2000, n_test=800, epochs=30, config=replace(base, timing_sd=2 * base.timing_sd))["mae_label"]
    none = stage_reader_mae(n_train=2000, n_test=800, epochs=30, config=replace(base, timing_sd=0.0))["mae_label"]
    assert none < lo < hi
    assert hi > lo + 0.1


def test_linear_model_on_thumbnails_stays_above_a_year():
    assert linear_baseline_mae(size=64) > 1.0


def test_cnn_calibration_run_reports_its_settings(tmp_path):
    r = cnn_mae(size=64, width=0.125, n_train=40, n_test=16, epochs=2, progress=False, checkpoint=tmp_path / "c.pt")
    assert math.isfinite(r["mae_label"]) and r["mae_label"] > 0
    assert (r["size"], r["width"], r["n_train"], r["epochs"], r["device"]) == (64, 0.125, 40, 2, "cpu")
    assert len(r["history"]) == 2 and (tmp_path / "c.pt").exists()


def test_cli_writes_json_and_names_the_checkpoint_by_settings(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(calibrate, "stage_reader_mae", lambda seed: {"mae_label": 0.4})
    monkeypatch.setattr(phantom_baselines, "linear_baseline_mae", lambda seed, size, n_train, n_test: 1.8)

    def fake_cnn(size, width, n_train, n_test, epochs, seed, amp_cpu, checkpoint):
        seen.append(checkpoint)
        return dict(mae_label=0.7, size=size, width=width, n_train=n_train, epochs=epochs, device="cpu")

    monkeypatch.setattr(calibrate, "cnn_mae", fake_cnn)
    out = tmp_path / "cal" / "128.json"
    assert main(["calibrate", "--size", "128", "--out", str(out)]) == 0
    assert main(["calibrate", "--size", "256", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["cnn"]["size"] == 256 and res["stage_reader"]["mae_label"] == 0.4 and res["linear_32px"] == {"mae_label": 1.8, "size": 128, "n_train": 2000, "n_test": 500}
    assert res["data"].startswith("phantom") and len(set(seen)) == 2 and all(p.parent == out.parent for p in seen)
    assert sorted(f.name for f in out.parent.iterdir()) == ["128.json"]  # nothing half-written left behind
