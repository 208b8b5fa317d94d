"""Which phantom closes the gap (``baa.experiments.transfer_recipes``): the tables chapter 11 renders,
the comparison's resumption, the variants' names. Tests that train on real films skip when ../shared
is absent."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from baa.analysis.verdicts import joint_text
from baa.book import domains as D
from baa.experiments import transfer as T
from baa.experiments import transfer_recipes as R
from baa.experiments import versioned
from baa.models import BoNetPlus
from baa.phantom import PhantomConfig

RSNA = Path(__file__).resolve().parents[1].parent / "shared" / "rsna-dev"


def _scores(k: float) -> dict:
    s = lambda m: {"mae": m, "r": 0.5 + 0.1 * k, "bias": 1.0}  # noqa: E731
    return {"seed": int(k), "zero_shot": s(3.0 + k), "adabn": s(2.5), "cv": {h: s(2.0 + 0.5 * k) for h in T.HEADS},
            "phantom": s(1.5), "toddler_max": 10.0 + k}


def test_recipe_rows_are_mean_and_sd_over_seeds():
    res = {"variants": {"images": {"what": "w", "recipe": {}, "seeds": [_scores(0), _scores(2)]},
                        "empty": {"what": "not run", "recipe": {}, "seeds": []}}}
    rows = R.recipe_rows(res)
    assert [r["variant"] for r in rows] == ["images"]
    r = rows[0]
    assert r["seeds"] == 2 and r["zero-shot MAE"] == "4.00 ± 1.41" and r["ridge_residual MAE"] == "2.50 ± 0.71"
    assert r["phantom MAE"] == "1.50 ± 0.00" and r["oldest toddler"] == "11.00 ± 1.41"
    assert r["zero-shot MAE, unseen films"] == r["zero-shot MAE"]  # not aligned: its zero-shot saw no real film
    res["variants"]["images"]["seeds"][0]["zero_shot_heldout"] = {"mae": 5.0, "r": 0.1, "bias": 4.0}
    assert R.recipe_rows(res)[0]["zero-shot MAE, unseen films"] == "5.00 ± 0.00"
    del res["variants"]["images"]["seeds"][0]["zero_shot_heldout"]
    assert len(D.recipe_table(res)) == 1 and r["toddlers under 4 y"] == "–" and D.toddler_table(res) is None
    assert r["segmenters with a map unlearned"] == "–"
    for e, carpals in zip(res["variants"]["images"]["seeds"], (0.8, 0.0)):
        e["segmenter_dice"] = {"bones": 0.9, "carpals": carpals}
    assert R.recipe_rows(res)[0]["segmenters with a map unlearned"] == "1 of 2"
    for k, e in enumerate(res["variants"]["images"]["seeds"]):  # the toddlers' readings, where recorded
        e["toddlers"] = {"raw-1.png": 2.0 + 3 * k, "raw-2.png": 9.0}
    assert R.recipe_rows(res)[0]["toddlers under 4 y"] == "0.50 ± 0.71"
    t = D.toddler_table(res)
    assert t.loc["raw-1.png", "images"] == 3.5 and t.loc["under 4 y", "images"] == 1
    assert T.mean_sd([4.79]) == "4.79 (one training)"
    fig = D.figure_recipes(res, baseline=2.9)
    assert len(fig.axes) == 4 and fig.axes[0].get_yticklabels()[0].get_text() == "images"
    plt.close("all")


def test_joint_rows_and_figure():
    s = lambda m: {"mae": m, "r": 0.4, "bias": 1.0}  # noqa: E731
    res = {"variants": {"images": {"what": "w", "recipe": {}, "seeds": [_scores(0), _scores(2)]}},
           "joint": {"joint_x8": {"what": "j", "repeat": 8, "folds": 4,
                                    "seeds": [{"seed": 0, "cv": s(2.0), "toddler_max": 9.0},
                                              {"seed": 1, "cv": s(3.0), "toddler_max": 11.0}]},
                     "joint_x32": {"what": "h", "repeat": 32, "folds": 4, "seeds": []}}}
    rows = R.joint_rows(res)
    assert rows == [{"variant": "joint_x8", "what": "j", "seeds": 2, "4-fold MAE": "2.50 ± 0.71", "r": "0.40 ± 0.00",
                     "bias": "1.00 ± 0.00", "oldest toddler": "10.00 ± 1.41", "youngest toddler": ""}]
    assert len(D.joint_table(res)) == 1 and R.joint_rows({"variants": {}}) == []
    fig = D.figure_joint(res, baseline=2.9)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["images + ridge_residual (LOO)", "joint_x8 (4-fold)"]
    plt.close("all")
    # a joint training of another recipe: that recipe's head is drawn too, before the joint rows
    res["variants"]["bone_maps_jitter"] = {"what": "m", "recipe": {}, "seeds": [_scores(1)]}
    res["joint"]["maps_joint_x32"] = {"what": "mj", "repeat": 32, "folds": 4, "variant": "bone_maps_jitter",
                                      "seeds": [{"seed": 0, "cv": s(1.5), "toddler_max": 3.0}]}
    fig = D.figure_joint(res, baseline=2.9)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "images + ridge_residual (LOO)", "bone_maps_jitter + ridge_residual (LOO)", "joint_x8 (4-fold)",
        "maps_joint_x32 (4-fold)"]
    plt.close("all")
    assert R.JOINT["maps_joint_x32"][3] == "bone_maps_jitter" and R.JOINT["maps_joint_x32"][3] in R.VARIANTS
    assert {"joint_x8", "real_only"} <= set(R.JOINT) and all(k > 0 for _, k, _, _ in R.JOINT.values())
    assert all(v[2] in R.PHANTOMS for v in R.JOINT.values())
    assert (R.JOINT["real_only"][2], R.JOINT["joint_x8"][2], R.JOINT["maps_finetune_x32"][2]) == ("none", "among", "before")


def test_every_variant_is_a_recipe_and_a_phantom():
    """Each variant's fields are the Recipe's, its anatomy fields PhantomConfig's; ``images`` changes nothing."""
    assert R.VARIANTS["images"][1] == {}
    for what, fields in R.VARIANTS.values():
        r = replace(T.Recipe(), **fields)
        PhantomConfig(**{f: v for f, v in r.phantoms().items() if f in T.ANATOMY})
        assert what
    for reference, variants in R.MAPS_COMPARISONS.items():  # the chapter's verdicts compare variants that read maps
        for v in (reference, *variants):
            assert R.VARIANTS[v][1]["maps"]
        # each differs from its reference in one setting, which maps BoNet+ reads or how a network is trained
        assert all(len({k for k in {**R.VARIANTS[reference][1], **R.VARIANTS[v][1]}
                        if R.VARIANTS[reference][1].get(k) != R.VARIANTS[v][1].get(k)}) == 1 for v in variants)
    with pytest.raises(SystemExit):
        R.main(["--variants", "no_such_variant"])
    with pytest.raises(SystemExit, match="no_such_joint"):
        R.main(["--variants", "", "--joint", "no_such_joint"])


def test_results_of_another_preparation_are_kept_apart(tmp_path, monkeypatch):
    """Results measured on inputs an earlier preparation made (``baa.data.prepare.VERSION``) are moved aside
    when a comparison begins, never mixed with new seeds; the chapter still finds them, labelled."""
    out = tmp_path / "recipes.json"
    old = {"variants": {"shipped": {"what": "w", "recipe": {}, "seeds": [_scores(0)]}},
           "joint": {"joint_x8": {"seeds": [{"cv": {"mae": 2.0}}]}}}  # no "preparation": the first
    out.write_text(json.dumps(old))
    monkeypatch.setattr(R, "real_inputs", lambda size: {"rsna": {"age": torch.tensor([5.0, 9.0, 12.0])}})
    res, _, _ = R._start(out, T.Recipe())
    assert res["variants"] == {} and res["preparation"] == T.PREPARATION
    assert json.loads(versioned.archived(1, out).read_text()) == old
    # the image recipe was once "shipped"; stored descriptions give way to today's
    renamed = {"variants": {"images": {**old["variants"]["shipped"], "what": R.VARIANTS["images"][0]}},
               "joint": {"joint_x8": {**old["joint"]["joint_x8"], "what": R.JOINT["joint_x8"][0]}}}
    assert R.load_earlier(out) == {1: renamed} and versioned.load(versioned.archived(1, out)) is None  # not today's
    assert R.holding("joint", out) == [(1, renamed)]  # nothing newer holds a joint training
    out.write_text(json.dumps({**res, "variants": {"shipped": {"seeds": [_scores(1)]}}}))
    assert [v for v, _ in R.holding("variants", out)] == [T.PREPARATION, 1]
    assert R.holding("nothing", out) == []
    res, _, _ = R._start(out, T.Recipe())  # the same preparation: resumed
    assert res["variants"]["images"]["seeds"] == [_scores(1)]  # resumed under today's name


@pytest.mark.slow
@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_compare_scores_each_seed_and_resumes(tmp_path, monkeypatch):
    base = T.Recipe(n=8, size=32, width=0.125, epochs=1, batch_size=4, render_size=64)
    monkeypatch.setattr(R, "N_HELD_OUT", 8)
    monkeypatch.setitem(R.VARIANTS, "input_40", ("a larger input, aligned with the real films at its size",
                                                 {"size": 40, "align": 1.0}))
    sizes, aligned = [], []
    real_inputs, train_bonet = R.real_inputs, R.train_bonet
    monkeypatch.setattr(R, "real_inputs", lambda size: sizes.append(size) or real_inputs(size))

    def train(data, r, unlabelled=None, **kw):  # an aligned recipe gets every real film, at its own input size
        if r.align:
            aligned.append(tuple(unlabelled.shape))
        return train_bonet(data, r, unlabelled=unlabelled, **kw)

    monkeypatch.setattr(R, "train_bonet", train)
    out = tmp_path / "recipes.json"
    res = R.compare(("packed_carpals", "input_40"), seeds=2, out=out, base=base)
    assert sizes == [32, 40]  # the real films prepared once at each input size a variant uses
    n_real = len((RSNA / "boneage-training-dataset.csv").read_text().split()) - 1 + len(list((RSNA.parent / "real-xrays").glob("raw-*.png")))
    assert aligned == [(n_real, 1, 40, 40)] * 2
    runs = res["variants"]["packed_carpals"]["seeds"]
    assert [e["seed"] for e in runs] == [0, 1] and all(e["phantom"]["mae"] > 0 for e in runs)
    assert len(res["variants"]["input_40"]["seeds"]) == 2
    # the aligned variant is also read on films it did not align on; the others have no such reading
    assert all(e["zero_shot_heldout"]["mae"] > 0 for e in res["variants"]["input_40"]["seeds"])
    assert not any("zero_shot_heldout" in e for e in runs)
    assert res["baseline"]["mean_loo"]["mae"] > 0
    monkeypatch.setattr(R, "train_bonet", lambda *a, **k: pytest.fail("a finished seed was trained again"))
    monkeypatch.setattr(R, "heldout_zero_shot", lambda *a, **k: pytest.fail("a finished held-out reading was redone"))
    again = R.compare(("packed_carpals", "input_40"), seeds=2, out=out, base=base)
    assert again["variants"] == res["variants"]


def test_joint_readings_figure_draws_the_seeds_that_kept_readings():
    """Each film's reading is the mean over the seeds that kept readings, its bar their SD; a fine-tuning setting
    draws its head's and zero-shot readings beside and counts the films it reads closer than the head."""
    s = {"mae": 1.0, "r": 0.5, "bias": 0.0}
    kept = lambda seed, p, h: {"seed": seed, "cv": s, "pred": p, "head_pred": h, "zero_shot_pred": [9.0] * 3}  # noqa: E731
    res = {"joint": {"maps_finetune_x32": {"true": [2.0, 6.0, 10.0], "seeds": [
        kept(0, [2.0, 7.0, 13.0], [5.0, 6.0, 11.0]), kept(1, [4.0, 7.0, 11.0], [5.0, 6.0, 9.0]),
        {"seed": 2, "cv": s}]},  # stored by an earlier version, without readings: left out
        "maps_joint_x32": {"true": [2.0, 6.0, 10.0], "what": "mj", "folds": 4, "seeds": [{"seed": 0, "cv": s}]}}}
    r = D.joint_readings(res["joint"]["maps_finetune_x32"])
    assert r["seeds"] == 2 and r["pred"][0].tolist() == [3.0, 7.0, 12.0]
    assert r["pred"][1] == pytest.approx([np.sqrt(2), 0.0, np.sqrt(2)]) and r["head_pred"][0].tolist() == [5.0, 6.0, 10.0]
    assert D.joint_readings(res["joint"]["maps_joint_x32"]) is None
    fig = D.figure_joint_readings(res)
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "maps_finetune_x32, 2 seeds\ncloser than the head on 1 of 3 films"
    assert D.figure_joint_readings({"joint": {"maps_joint_x32": res["joint"]["maps_joint_x32"]}}) is None
    plt.close("all")
    # fine-tuning and its head, film by film: one more setting, after it, of the seeds that kept both readings
    res["joint"]["maps_finetune_x32"].update(phantoms="before", folds=4, variant="bone_maps_jitter", what="ft")
    joint = R.with_head(res)
    assert list(joint) == ["maps_finetune_x32", "maps_finetune_x32 + ridge_residual", "maps_joint_x32"]
    both = joint["maps_finetune_x32 + ridge_residual"]["seeds"]
    assert [e["pred"] for e in both] == [[3.5, 6.5, 12.0], [4.5, 6.5, 10.0]]
    assert both[0]["cv"] == T.scores(np.array([3.5, 6.5, 12.0]), np.array([2.0, 6.0, 10.0]))
    rows = R.joint_rows(res)
    assert [r["variant"] for r in rows][:2] == ["maps_finetune_x32", "maps_finetune_x32 + ridge_residual"]
    assert rows[1]["seeds"] == 2 and rows[1]["oldest toddler"] == "" and rows[1]["youngest toddler"] == ""
    for k, e in enumerate(res["joint"]["maps_finetune_x32"]["seeds"]):  # the toddlers' readings kept: the youngest too
        e["toddlers"] = {"a.png": -2.0 - k, "b.png": 3.0}
    assert R.joint_rows(res)[0]["youngest toddler"] == "-3.00 ± 1.00"
    fig = D.figure_joint({**res, "variants": {}})
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][1] == "maps_finetune_x32 + ridge_residual (4-fold and leave-one-out)"
    plt.close("all")
    assert "- **maps_finetune_x32 + ridge_residual** (2 seeds, 4-fold and leave-one-out): MAE 1.17 y." in joint_text(res)
    assert R.with_head({"joint": {"maps_joint_x32": res["joint"]["maps_joint_x32"]}}) == {
        "maps_joint_x32": res["joint"]["maps_joint_x32"]}  # the phantoms among the films: no head of their own


@pytest.mark.slow
@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_compare_joint_trains_each_fold_on_real_films_and_resumes(tmp_path, monkeypatch, capsys):
    base = T.Recipe(n=8, size=32, width=0.125, epochs=1, batch_size=4, render_size=64)
    n_rsna = len((RSNA / "boneage-training-dataset.csv").read_text().split()) - 1
    sizes, train_bonet = [], R.train_bonet
    monkeypatch.setattr(R, "train_bonet", lambda data, r, **k: sizes.append(len(data["age"])) or train_bonet(data, r, **k))
    out = tmp_path / "recipes.json"
    res = R.compare_joint(("joint_x8",), seeds=1, out=out, base=base)
    held = [len(range(k, n_rsna, R.JOINT_FOLDS)) for k in range(R.JOINT_FOLDS)]
    assert sizes == [8 + R.JOINT["joint_x8"][1] * (n_rsna - h) for h in held]
    (run,) = res["joint"]["joint_x8"]["seeds"]
    assert run["seed"] == 0 and run["cv"]["mae"] > 0 and run["toddler_max"] is not None
    joint = res["joint"]["joint_x8"]
    assert len(run["pred"]) == len(joint["ids"]) == len(joint["true"]) == n_rsna and len(run["toddlers"]) == 10
    assert T.scores(np.array(run["pred"]), np.array(joint["true"]))["mae"] == pytest.approx(run["cv"]["mae"])
    # a seed stored without its readings (an earlier version) is trained again, and says its scores are the same
    stored = R.load_recipes(out)
    del stored["joint"]["joint_x8"]["seeds"][0]["pred"]
    out.write_text(json.dumps(stored))
    capsys.readouterr()
    assert R.compare_joint(("joint_x8",), seeds=1, out=out, base=base)["joint"] == res["joint"]
    assert "joint_x8, seed 0: readings added; its stored scores came out the same" in capsys.readouterr().out
    monkeypatch.setattr(R, "joint_cv", lambda *a, **k: pytest.fail("a finished seed was trained again"))
    assert R.compare_joint(("joint_x8",), seeds=1, out=out, base=base)["joint"] == res["joint"]
    monkeypatch.setattr(R, "joint_cv", lambda data, *a, **k: sizes.append(len(data["age"])) or {"cv": {"mae": 1.0},
                                                                                             "pred": [1.0] * n_rsna})
    R.compare_joint(("real_only",), seeds=1, out=out, base=base)
    assert sizes[-1] == 0  # the real films alone: no phantom
    res = R.load_recipes(out)
    res["joint"] = dict(reversed(res["joint"].items()))
    out.write_text(json.dumps(res))
    R.compare_joint(("real_only",), seeds=1, out=out, base=base)  # nothing left to train; the rows in JOINT's order
    assert list(R.load_recipes(out)["joint"]) == [n for n in R.JOINT if n in ("joint_x8", "real_only")]


@pytest.mark.slow
@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_fine_tuning_keeps_the_readings_of_the_network_it_starts_from(tmp_path, monkeypatch):
    """A setting whose phantoms come before the films keeps its phantom-trained network's zero-shot readings and its
    head's leave-one-out readings: the very ones ``compare`` measures for that recipe and seed."""
    base = T.Recipe(n=8, size=32, width=0.125, epochs=1, batch_size=4, render_size=64)
    monkeypatch.setattr(R, "N_HELD_OUT", 8)
    out = tmp_path / "recipes.json"
    (recipe,) = R.compare(("bone_maps_jitter",), seeds=1, out=out, base=base)["variants"]["bone_maps_jitter"]["seeds"]
    joint = R.compare_joint(("maps_finetune_x32",), seeds=1, out=out, base=base)["joint"]["maps_finetune_x32"]
    (run,) = joint["seeds"]
    y = np.array(joint["true"])
    assert run["zero_shot"] == recipe["zero_shot"] == T.scores(np.array(run["zero_shot_pred"]), y)
    assert T.scores(np.array(run["head_pred"]), y) == recipe["cv"][T.SHIPPED_HEAD]
    assert len(run["pred"]) == len(y) and run["pred"] != run["zero_shot_pred"]


def test_joint_training_never_reads_a_film_it_trained_on(monkeypatch):
    """Each fold's network trains on the phantoms and the other folds' films (repeated), with their ages,
    and reads only its own fold; the toddlers' readings are the folds' mean."""
    n, m = 9, 5
    film = lambda k: torch.arange(k, dtype=torch.float32).view(k, 1, 1, 1).expand(k, 1, 4, 4).clone()  # noqa: E731
    rsna = {"image": film(n), "raw": film(n), "age": torch.arange(n, dtype=torch.float32) + 1.0, "male": torch.ones(n)}
    phantoms = {"image": -film(m) - 10, "raw": -film(m) - 10, "age": torch.full((m,), 50.0), "male": torch.zeros(m)}
    real = {"rsna": rsna, "toddlers": {"image": torch.full((2, 1, 4, 4), -1.0), "raw": torch.full((2, 1, 4, 4), -1.0),
                                       "names": ["a.png", "b.png"]}}
    trained = []
    monkeypatch.setattr(R, "train_bonet", lambda data, r, **k: trained.append(data) or len(trained))
    monkeypatch.setattr(R, "network_inputs", lambda model, x: (None, x[:, 0, 0, 0].numpy() + 1 + 10 * (model - 1)))
    out = R.joint_cv(phantoms, T.Recipe(), real, folds=3, repeat=2)
    assert len(trained) == 3
    for k, data in enumerate(trained):
        films = data["image"][m:, 0, 0, 0]
        assert torch.equal(data["image"][:m], phantoms["image"]) and len(films) == 2 * (n - n // 3)
        assert set(films.tolist()) == {float(i) for i in range(n) if i % 3 != k}
        assert torch.equal(data["age"][m:], films + 1) and data["male"][m:].eq(1).all()
    assert out["pred"] == [float(i + 1 + 10 * (i % 3)) for i in range(n)]
    assert out["cv"]["mae"] == pytest.approx(10.0) and out["toddlers"] == {"a.png": 10.0, "b.png": 10.0}
    # a recipe reading maps trains on the phantoms' maps and the other folds' films' maps, and reads its fold's maps
    trained.clear()
    for d in (phantoms, rsna, real["toddlers"]):
        d["maps"] = d["image"].repeat(1, 2, 1, 1)
    out = R.joint_cv(phantoms, T.Recipe(maps="bones,epiphyses"), real, folds=3, repeat=2)
    assert [len(d["maps"]) for d in trained] == [m + 2 * (n - n // 3)] * 3
    assert torch.equal(trained[0]["maps"][m:, 1, 0, 0], trained[0]["image"][m:, 0, 0, 0])
    assert out["pred"] == [float(i + 1 + 10 * (i % 3)) for i in range(n)]
    # fine-tuning: each fold tunes the one phantom-trained network on its training films alone, none trained afresh
    trained.clear()
    tuned = []
    monkeypatch.setattr(R, "train_bonet", lambda *a, **k: pytest.fail("a fold trained a network from scratch"))
    monkeypatch.setattr(R, "fine_tune", lambda model, data, r: tuned.append((model, data)) or len(tuned))
    none = {k: v[:0] for k, v in phantoms.items()}
    out = R.joint_cv(none, T.Recipe(), real, folds=3, repeat=2, pretrained="phantom-trained")
    assert [t[0] for t in tuned] == ["phantom-trained"] * 3
    for k, (_, data) in enumerate(tuned):
        assert set(data["image"][:, 0, 0, 0].tolist()) == {float(i) for i in range(n) if i % 3 != k}
    assert out["pred"] == [float(i + 1 + 10 * (i % 3)) for i in range(n)]


def test_fine_tune_trains_a_copy_on_the_films_alone():
    """``fine_tune`` leaves the phantom-trained network as it is, moves a copy towards the films' ages, and gives
    the same bytes for the same seed."""
    torch.manual_seed(0)
    r = T.Recipe(width=0.125, batch_size=4, size=32)
    model = BoNetPlus(width=r.width).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    films = {"image": torch.rand(8, 1, 32, 32), "raw": torch.rand(8, 1, 32, 32), "age": torch.full((8,), 15.0),
             "male": torch.ones(8)}
    a, b = T.fine_tune(model, films, r, epochs=2), T.fine_tune(model, films, r, epochs=2)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert not torch.equal(a.state_dict()["out.2.weight"], before["out.2.weight"])
    with torch.no_grad():
        old, new = model(films["image"]).mean(), a(films["image"]).mean()
    assert abs(float(new) - 15.0) < abs(float(old) - 15.0)


@pytest.mark.slow
@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_compare_trains_a_segmenter_and_bonet_reads_its_maps(tmp_path, monkeypatch):
    """A bone-maps variant: each seed's segmenter learns the phantoms' masks, BoNet+ trains on and reads its
    maps (three channels for ``bone_maps_all``), and the first seed's maps are saved for the chapter."""
    base = T.Recipe(n=8, size=32, width=0.125, epochs=1, batch_size=4, render_size=64)
    monkeypatch.setattr(R, "N_HELD_OUT", 8)
    read, train_bonet = [], R.train_bonet
    monkeypatch.setattr(R, "train_bonet",
                        lambda data, r, **kw: read.append(tuple(r.view(data).shape)) or train_bonet(data, r, **kw))
    res = R.compare(("bone_maps_all",), seeds=2, out=tmp_path / "recipes.json", base=base)
    assert read == [(8, 3, 32, 32)] * 2
    runs = res["variants"]["bone_maps_all"]["seeds"]
    assert all(set(e["segmenter_dice"]) == {"bones", "carpals", "epiphyses"} and e["zero_shot"]["mae"] > 0 for e in runs)
    n_tod = len(list((RSNA.parent / "real-xrays").glob("raw-*.png")))
    assert all(len(e["toddlers"]) == n_tod for e in runs)
    ex = D.load_bone_maps("bone_maps_all", tmp_path)
    n_rsna = len((RSNA / "boneage-training-dataset.csv").read_text().split()) - 1
    assert ex["rsna"]["maps"].shape == (n_rsna, 3, 32, 32) and ex["recipe"] == "bones,carpals,epiphyses"
    assert D.load_bone_maps("bone_maps", tmp_path) is None
    D.figure_bone_maps(ex)
    t = D.toddler_table(res)
    assert list(t.columns) == ["bone_maps_all"] and t.loc["under 4 y", "bone_maps_all"] <= n_tod
    plt.close("all")
