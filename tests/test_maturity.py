"""baa.analysis.maturity: chapter 1's phantom facts, on small inputs."""

import json

import numpy as np
import pytest
import torch

from baa.analysis import maturity as M
from baa.data import BoneAgeData
from baa.phantom import CARPAL_NAMES, EVENTS, render, sample_subjects, write_rsna


def test_half_age_finds_the_threshold():
    age = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert M.half_age(age, age > 3.5) == pytest.approx(3.5)
    assert M.half_age(age, np.ones(6)) == 1.0 and M.half_age(age, np.zeros(6)) == 6.0
    assert M.half_age(age[::-1], (age > 2.5)[::-1]) == pytest.approx(2.5)  # order of the subjects does not matter


def test_timetable_is_the_phantoms_own():
    t = M.timetable("app")
    assert list(t.index) == list(CARPAL_NAMES) and list(t.columns) == ["girls", "boys"]
    assert t.loc["capitate", "girls"] == pytest.approx(float(EVENTS["app"][0, 0]), abs=0.005)
    assert (t["boys"] >= t["girls"]).all()  # boys mature later
    assert M.timetable("fuse", ("radius",)).loc["radius", "boys"] == pytest.approx(float(EVENTS["fuse"][len(CARPAL_NAMES), 1]))


def test_carpal_appearance_follows_the_timetable():
    pop = M.population(200, seed=1)
    a = M.carpal_appearance(pop)
    assert len(a) == 2 * len(CARPAL_NAMES) and a.index.names == ["carpal", "sex"]
    assert np.allclose(a["difference (y)"], (a["rendered (y)"] - a["timetable (y)"]).round(2))
    assert a["difference (y)"].abs().max() < 1.5
    assert "Largest gap" in M.appearance_text(a, 200, 1)


def test_schedule_and_binned_share():
    s = M.schedule(male=False)
    assert s.loc["pisiform", "appears"] == pytest.approx(9.5, abs=0.05) and np.isnan(s.loc["pisiform", "fused"])
    assert (s["fused"].dropna() > s["fusion starts"].dropna()).all()
    share = M.binned_share([0.5, 1.5, 1.6], [0.0, 1.0, 0.0], np.array([0.0, 1.0, 2.0, 3.0]))
    assert share[0] == 0 and share[1] == 0.5 and np.isnan(share[2])


def test_reading_noise():
    s = sample_subjects(500, seed=2)
    n = M.reading_noise(s)
    assert n["subjects"] == 500 and 0 < n["label vs truth"] < n["one reading vs truth"] < n["between readings"]
    assert "**" in M.reading_noise_text(n)
    s["label"] = s["label"] + 1
    with pytest.raises(ValueError):
        M.reading_noise(s)


def test_masks_chapter_1_draws():
    mk = render(torch.arange(2), seed=0, size=64, masks=True)
    assert all(mk["masks"][n].shape == mk["image"].shape for n in ("hand", "bones", "epiphyses", "carpals"))
    assert not (mk["masks"]["carpals"] & ~mk["masks"]["bones"]).any(), "carpals outside the bone mask"


def test_fold_table():
    data = BoneAgeData(torch.zeros(11, 1, 4, 4), torch.linspace(0, 19, 11), torch.tensor([0.0, 1.0] * 5 + [0.0]),
                       [str(i) for i in range(11)], "phantom")
    table, val = M.fold_table(data, k=3, seed=0)
    assert table["validation images"].sum() == 11 and len(val) == 3
    assert table["validation images"].max() - table["validation images"].min() <= 1
    assert "11 images of 4x4 pixels, 5 boys and 6 girls" in M.training_set_text(data)


def test_round_trip(tmp_path):
    write_rsna(tmp_path / "rsna", n=3, size=32, seed=0, progress=False, workers=0)
    rt = M.round_trip(tmp_path / "rsna", size=32, seed=0)
    assert len(rt["data"]) == 3 and min(rt["corr_raw"]) > 0.99
    assert set(rt["flipped"]) <= set(rt["data"].ids)
    text = M.round_trip_text(rt)
    assert f"{len(rt['flipped'])} of 3 images" in text


def test_calibration(tmp_path, monkeypatch):
    assert M.calibration_runs(tmp_path / "absent") == []
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path / "artifacts"))
    assert M.calibration_runs() == []
    (tmp_path / "a.json").write_text(json.dumps({"cnn": {"size": 128, "width": 0.5, "n_train": 10, "epochs": 2,
                                                         "device": "cpu", "mae_label": 0.8}}))
    (tmp_path / "b.json").write_text(json.dumps({"floor": 1}))
    runs = M.calibration_runs(tmp_path)
    floor = {"mae_label": 0.5, "mae_bone_age": 0.4}
    table = M.calibration_table(floor, 1.4, runs)
    assert list(table["MAE (y)"]) == [0.5, 1.4, 0.8]
    text = M.calibration_text(floor, 1.4, runs, "smoke")
    assert "**0.80 y**, inside the paper's range" in text and "smoke profile" in text
