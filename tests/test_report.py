"""baa.analysis.report: tables beside the paper's, on hand-made results dicts."""

import copy
import json
import os

import numpy as np
import pytest
import torch

from baa import paper
from baa.models import BoNetPlus

from baa.analysis.claims import paper_results
from baa.analysis.report import (PAPER, architecture_table, cached_results, caption, ccs_curves, ccs_fraction,
                                 classifier_table, confusion_frame, cq_dq_psnr, data_line, dq_all_table, history_frame,
                                 load_bench, parameter_counts, pooled_predictions, restoration_quality, resunet_table,
                                 table2, table45, to_markdown)
from baa.models import ResUNet, count_parameters
from baa.paper import RESUNET_LAYERS
from baa.profiles import get_profile
from baa.paper import TABLE1


def _loss(mae_mean=0.8, mse_mean=0.9, folds=2):
    def one(m):
        fs = [{"fold": f, "mae": m, "mdae": m * 0.8, "pred": [1.0, 2.0, 3.0], "true": [1.5, 2.0, 2.0],
               "history": [{"epoch": e + 1, "loss": 1.0 / (e + 1), "val_mae": m + 0.1 / (e + 1)} for e in range(3)]}
              for f in range(folds)]
        return {"folds": fs, "mae_mean": m, "mae_std": 0.05, "mdae_mean": m * 0.8, "mdae_std": 0.04}
    return {"mae": one(mae_mean), "mse": one(mse_mean)}


def _assessment():
    """Our numbers as the paper's (Tables 4-5 and DQ on all three), plus a 4x4 confusion."""
    a, _ = paper_results()
    a = copy.deepcopy(a)
    a.update(profile="smoke", source="phantom (seed 0)", n_test=10)
    for name in ("plain", "cq", "nq", "cq_multilabel"):
        a["mae"].setdefault(name, {})["all"] = 1.5
        a["mdae"].setdefault(name, {})["all"] = 1.2
    a["confusion"] = [[10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0], [0, 0, 0, 10]]
    a["classifier_accuracy"] = 1.0
    a["ccs_thresholds"] = [0.0, 0.5, 1.0]
    a["ccs"] = {"dq": {"noise": [2, 5, 10]}}
    return a


def test_table2_side_by_side():
    df = table2(_loss(), profile="smoke", source="phantom (seed 0)")
    ours = "ours (phantom, profile smoke)"
    assert list(df.index) == ["BoNet+_MAE", "BoNet+_MSE"]
    assert df.loc["BoNet+_MAE", (ours, "MAE")] == "0.800 ± 0.050"
    assert df.loc["BoNet+_MAE", (PAPER, "MAE")] == "0.762 ± 0.103"
    assert df.loc["BoNet+_MSE", (ours, "folds")] == 2
    num = table2(_loss(), profile="smoke", numbers=True)
    assert num.loc["BoNet+_MSE", (PAPER, "MdAE")] == pytest.approx(0.774)
    summary_only = {k: {kk: vv for kk, vv in v.items() if kk != "folds"} for k, v in _loss().items()}
    assert table2(summary_only, "smoke", n_folds=1).loc["BoNet+_MAE", (ours, "folds")] == 1


def test_history_and_pooled_predictions():
    h = history_frame(_loss(folds=2))
    assert len(h) == 2 * 2 * 3 and set(h["objective"]) == {"mae", "mse"}
    pred, true = pooled_predictions(_loss(folds=2))
    assert pred.shape == true.shape == (6,)


def test_table45_and_dq_all():
    a = _assessment()
    t4 = table45(a, "mae")
    ours = "ours (phantom, profile smoke)"
    assert list(t4.index) == ["BoNet+", "BoNet+_CQ", "BoNet+_DQ", "BoNet+_NQ"]
    assert t4.loc["BoNet+", (PAPER, "low-res")] == pytest.approx(1.215)
    assert t4.loc["BoNet+_DQ", (ours, "noise")] == pytest.approx(paper.TABLE4["dq"]["noise"])
    t5 = table45(a, "mdae")
    assert t5.loc["BoNet+_NQ", (PAPER, "high")] == pytest.approx(0.697)
    d = dq_all_table(a)
    assert "BoNet+_CQ (multi-label)" in d.index
    assert d.loc["BoNet+_DQ", (PAPER, "MAE")] == pytest.approx(0.824)
    assert np.isnan(d.loc["BoNet+", (PAPER, "MAE")])
    md = to_markdown(t4)
    assert md.count("\n") == 5 and "1.215" in md and f"{ours} / high" in md
    t, frac = ccs_fraction(a, "dq", "noise")
    assert frac.tolist() == [0.2, 0.5, 1.0]


def test_classifier_tables():
    conf = [[9, 1, 0, 0], [0, 10, 0, 0], [0, 0, 8, 2], [0, 0, 0, 10]]
    cf = confusion_frame(conf)
    assert cf.loc["label", "low-res"] == 2 and list(cf.columns) == ["high", "noise", "label", "low-res"]
    ct = classifier_table(conf, "smoke")
    col = "ours (phantom, profile smoke)"
    assert ct.loc["all", col] == pytest.approx(37 / 40)
    assert ct.loc["label", col] == pytest.approx(0.8) and ct.loc["all", "images"] == 40
    assert ct.loc["all", PAPER] == "> 98%"


def test_load_bench(tmp_path, monkeypatch):
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    smoke = get_profile("smoke")
    assert load_bench(smoke) is None
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "bench.json").write_text(json.dumps({"speed": {"resunet_ms": 3.5}}))
    assert load_bench(smoke)["speed"]["resunet_ms"] == 3.5


def test_cached_results_uses_fresh_json_only(tmp_path, monkeypatch):
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    (tmp_path / "smoke" / "models").mkdir(parents=True)
    (tmp_path / "smoke" / "results").mkdir()
    ckpt = tmp_path / "smoke" / "models" / "bonet_mae_fold0.pt"
    ckpt.write_text("x")
    res = tmp_path / "smoke" / "results" / "assessment.json"
    res.write_text(json.dumps({"from": "json"}))
    os.utime(ckpt, (1000, 1000))
    calls = []
    compute = lambda p: calls.append(p) or {"from": "compute"}
    smoke = get_profile("smoke")
    assert cached_results("assessment", smoke, compute) == {"from": "json"}
    os.utime(ckpt, (res.stat().st_mtime + 10,) * 2)  # a checkpoint newer than the results
    assert cached_results("assessment", smoke, compute) == {"from": "compute"} and calls == [smoke]


def test_architecture_table_matches_table1_without_computing():
    with torch.device("meta"):
        m = BoNetPlus()
    df = architecture_table(m, 256)
    assert df["matches"].all() and len(df) == len(TABLE1)
    small = architecture_table(BoNetPlus(width=0.125), 64)
    assert not small["matches"].all()  # narrower and smaller: the table says so
    assert small.loc["db1", "size"] == "32×32"


def test_restoration_quality_identity_restorer():
    clean = torch.rand(3, 1, 16, 16)
    degrade = lambda x, kind: (x * 0.5).clamp(0, 1)
    ident = torch.nn.Identity()
    df = restoration_quality({"DQ": ident, "CQ expert": {"noise": ident, "label": ident, "lowres": ident},
                                "halve": lambda x: x * 0.5}, clean, degrade, kinds=("high", "noise", "label", "lowres"))
    assert list(df.index) == ["high", "noise", "label", "low-res"]
    assert np.isnan(df.loc["high", "CQ expert PSNR"]) and df.loc["noise", "halve PSNR"] < df.loc["noise", "DQ PSNR"]
    assert df.loc["noise", "DQ PSNR"] == pytest.approx(df.loc["noise", "degraded PSNR"])
    assert df.loc["label", "CQ expert SSIM"] == pytest.approx(df.loc["label", "degraded SSIM"])


def test_data_line_is_computed_from_the_profile():
    p = get_profile("smoke")
    line = data_line(p)
    assert line.startswith(f"Data: phantom (seed {p.seed}), profile **smoke**: {p.n_images} training and {p.n_test} test")
    assert f"at {p.image_size}²" in line and line.endswith(f"The paper: {paper.DATA}.")
    full = data_line(get_profile("cpu"), "regressor", "cv", "restorer", "classifier", "bench")
    assert "30 epochs" in full and "5-fold cross-validation of which 2 folds" in full and "128 bench images" in full
    assert "16 images at 64²" in data_line(p, images="16 images at 64²")
    with pytest.raises(ValueError):
        data_line(p, "nonsense")
    assert caption("Table 4", "phantom", "; 24 images") == f"**Table 4.** Ours: phantom; 24 images. paper: {paper.DATA}."


def test_data_line_names_a_real_dataset(tmp_path):
    """On a labelled folder the line names the folder, its films, ages and sexes, and the Digital Hand Atlas note."""
    from baa.phantom import write_rsna
    from baa.profiles import resolve

    write_rsna(tmp_path / "films", n=5, size=64, seed=3, progress=False, workers=0)
    p = resolve("smoke", tmp_path / "films", "rsna")
    line = data_line(p, "regressor")
    assert line.startswith("Data: real radiographs `films` (rsna layout, 5 films, bone age ")
    assert "not the Digital Hand Atlas" in line and "profile **smoke**" in line and "held out for testing" in line
    assert resolve("smoke").data.phantom and resolve("smoke", None).data == get_profile("smoke").data


def test_parameter_counts_add_up():
    with torch.device("meta"):
        m = BoNetPlus()
    c = parameter_counts(m)
    assert c["total"] == count_parameters(m) == c["parts"].sum()
    assert c["largest"] == c["parts"].idxmax() and 0 < c["share"]["head"] < 1
    assert c["share"]["dense blocks"] + c["share"]["head"] < 1  # conv1, conv2 and tl1-tl6 hold the rest


def test_resunet_table():
    with torch.device("meta"):
        paper_size = ResUNet(depth=5, width=1.0)
    t = resunet_table({"ours": paper_size, "small": ResUNet(depth=2, width=0.125)})
    assert list(t.columns) == ["paper (section 3.3.1)", "ours", "small"]
    assert [t.loc[k, "ours"] for k in RESUNET_LAYERS] == list(RESUNET_LAYERS.values())
    assert t.loc["channels", "ours"] == "64 → 2048" and t.loc["max_pool", "small"] == 2


def test_ccs_curves():
    curves = ccs_curves(_loss())
    t, frac = curves["mae"]
    assert set(curves) == {"mae", "mse"} and len(t) == len(frac) and frac[-1] == 1.0
    assert frac[np.searchsorted(t, 0.5)] == pytest.approx(2 / 3)  # |errors| 0.5, 0, 1 of each fold, pooled


def test_cq_dq_psnr_of_identical_restorers():
    class Same(torch.nn.Module):
        def restore(self, x):
            return x.clamp(0, 1)

        def forward(self, x):
            return x

    x = {k: torch.rand(2, 1, 8, 8) for k in ("noise", "label", "lowres", "all")}
    out = cq_dq_psnr(Same(), Same(), x)
    assert list(out) == ["noise", "label", "low-res", "all three"] and all(np.isinf(v) for v in out.values())
