"""The phantom-to-real experiments (issue 18): appearance randomisation, the intensity
standardisation, leave-one-out real-label learning, and the results file when present.
Tests that read real films skip when ../shared is absent."""

from __future__ import annotations
import json
from pathlib import Path
import numpy as np
import pytest
import torch
from baa.data.prepare import bone_detail
from baa.experiments import transfer as T
from baa.models.bonet import BoNetPlus
from baa.phantom import PhantomConfig, render
from baa.phantom.appearance import Appearance, randomise
from baa.train import adapt_batchnorm
from baa.weights import standardise_image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RSNA = SHARED / "rsna-dev"


@pytest.fixture(scope="module")
def rendered():
    return render(list(range(4)), 0, PhantomConfig(size=64), masks=True)


def test_randomise_is_seeded_and_batch_free(rendered):
    x, hand = rendered["image"], rendered["masks"]["hand"]
    a = randomise(x, range(4), seed=3, hand=hand)
    b = randomise(x, range(4), seed=3, hand=hand)
    assert torch.equal(a, b)
    assert a.shape == x.shape and a.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    one = randomise(x[2:3], [2], seed=3, hand=hand[2:3])  # image 2 alone: same bytes
    assert torch.equal(one[0], a[2])
    assert not torch.equal(randomise(x, range(4), seed=4, hand=hand), a)


def test_randomise_strength_zero_keeps_the_image(rendered):
    x = rendered["image"]
    out = randomise(x, range(4), seed=0, appearance=Appearance(strength=0.0))
    assert torch.allclose(out, x.clamp(0, 1), atol=2e-2)


def test_randomise_moves_companions_with_the_image(rendered):
    """Masks given as companions follow their image's rotation, zoom and shift and draw nothing: the
    images are the same bytes with or without them."""
    x, hand = rendered["image"], rendered["masks"]["hand"]
    a = randomise(x, range(4), seed=3, hand=hand)
    b, c = randomise(x, range(4), seed=3, hand=hand, companions=hand.float())
    assert torch.equal(a, b) and c.shape == hand.shape and 0 <= c.min() and c.max() <= 1
    plain = Appearance(gamma=(1, 1), contrast=(1, 1), brightness=(0, 0), p_background=0, gradient=0, scatter=(0, 0),
                       blur=(0, 0), noise=(0, 0), p_collimation=0, p_marker=0, p_ruler=0)  # geometry alone
    fill = torch.stack([torch.quantile(v.flatten(), 0.05) for v in x]).view(-1, 1, 1, 1)  # what randomise pads with
    img, moved = randomise(x, range(4), seed=3, appearance=plain, companions=x - fill)
    for i in range(4):
        assert np.corrcoef(img[i].flatten(), moved[i].flatten())[0, 1] > 0.99
        assert not torch.allclose(moved[i], x[i] - fill[i], atol=0.05)  # it did move


def test_standardise_ignores_monotone_intensity_changes(rendered):
    a = rendered["image"][0, 0].numpy()
    s = standardise_image(a)
    assert s.min() == 0.0 and s.max() == pytest.approx(1.0)
    inside = s > 0
    assert 0.05 < inside.mean() < 0.95 and s[inside].min() >= 0.2 - 1e-6
    # an exposure (affine) change moves no pixel's rank: the same standardised image
    assert np.allclose(standardise_image(0.1 + 0.8 * a), s, atol=1e-4)
    # a gamma keeps the ranks too; only the hand mask (Otsu on a smoothed image) may move a little
    g = standardise_image(a ** 1.7)
    both = (g > 0) & inside
    assert both.sum() / ((g > 0) | inside).sum() > 0.9
    assert np.corrcoef(g[both], s[both])[0, 1] > 0.98


def test_bone_detail_keeps_edges_drops_the_slow_shading(rendered):
    """bone_detail: a smooth ramp across the hand (soft tissue thickening) leaves no trace, the hand's
    outline adds no edge, a bone's edge does; the background stays 0."""
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    hand = ((x - 16).abs() < 10) & ((y - 16).abs() < 12)
    bone = hand & ((x - 16).abs() < 2)
    ramp = 0.3 + 0.02 * y
    a = torch.where(hand, ramp + 0.3 * bone, torch.zeros(()))[None, None]
    d = bone_detail(a, 1.5)
    assert d.shape == a.shape and torch.all(d[0, 0][~hand] == 0) and 0 <= d.min() and d.max() <= 1
    inner = hand & ((y - 16).abs() < 7)  # rows whose Gaussian window lies inside the hand
    assert d[0, 0][bone & inner].mean() > 0.6 and d[0, 0][inner & ((x - 16).abs() > 5)].sub(0.5).abs().max() < 0.02
    # only the ramp differs: the same detail
    b = torch.where(hand, 0.5 + 0.3 * bone, torch.zeros(()))[None, None]
    assert (bone_detail(b, 1.5) - d)[0, 0][inner].abs().max() < 0.03
    # a batch is read image by image (each its own SD), whatever sits beside it
    s = torch.from_numpy(standardise_image(rendered["image"][0, 0].numpy()))[None, None]
    assert torch.allclose(bone_detail(torch.cat([s, torch.rand_like(s)]), 2)[:1], bone_detail(s, 2), atol=1e-6)


def test_recipe_view_is_what_the_network_reads():
    from dataclasses import replace

    d = {"image": torch.rand(2, 1, 16, 16) * 0.8 + 0.2, "raw": torch.zeros(2, 1, 16, 16)}
    assert T.Recipe().view(d) is d["image"] and replace(T.Recipe(), standardise=False).view(d) is d["raw"]
    assert torch.equal(replace(T.Recipe(), detail=2.0).view(d), bone_detail(d["image"], 2.0))
    from baa.experiments import shipped as S

    with pytest.raises(ValueError, match="bone_detail"):
        S.save_shipped(None, None, replace(T.Recipe(), detail=2.0), T.SHIPPED_HEAD, None, 0.0)
    maps = replace(T.Recipe(), maps="bones")
    with pytest.raises(KeyError, match="with_maps"):
        maps.view(d)
    m = torch.rand(2, 1, 16, 16)
    assert maps.view({**d, "maps": m}) is m
    with pytest.raises(ValueError, match="bone maps"):  # a recipe with maps ships its segmenter, and only such a recipe
        S.save_shipped(None, None, maps, T.SHIPPED_HEAD, None, 0.0)
    with pytest.raises(ValueError, match="bone maps"):
        S.save_shipped(None, None, T.Recipe(), T.SHIPPED_HEAD, None, 0.0, segmenter=object())
    assert maps.phantoms()["masks"] and not T.Recipe().phantoms()["masks"]


def test_ridge_fits_a_linear_signal():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(27, 40))
    y = Z[:, 0] * 2 + 5 + 0.01 * rng.normal(size=27)
    m = T.ridge_fit(Z, y)
    assert np.abs(T.ridge_predict(m, Z) - y).mean() < 0.5


@pytest.mark.parametrize("kind", T.HEADS)
def test_leave_one_out_never_sees_the_scored_film(kind):
    rng = np.random.default_rng(1)
    F, p = rng.normal(size=(12, 6)), rng.uniform(0, 15, 12)
    y = p * 0.7 + 2 + rng.normal(size=12)
    a = T.loo(kind, F, p, y)
    y2 = y.copy()
    y2[3] += 100.0  # the label of film 3 changes: its own prediction must not
    b = T.loo(kind, F, p, y2)
    assert a[3] == pytest.approx(b[3])
    assert not np.allclose(np.delete(a, 3), np.delete(b, 3))


def test_scores_and_baseline():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    s = T.scores(y + 1, y)
    assert s["mae"] == pytest.approx(1) and s["bias"] == pytest.approx(1) and s["r"] == pytest.approx(1)
    assert T.mean_age_baseline(y)["mean_all"]["mae"] == pytest.approx(1.0)


def test_phantom_inputs_deterministic():
    a = T.phantom_inputs(3, 32, seed=0, render_size=64, workers=1)
    b = T.phantom_inputs(3, 32, seed=0, render_size=64, workers=1)
    assert a["image"].shape == (3, 1, 32, 32)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["age"], b["age"])
    m = T.phantom_inputs(3, 32, seed=0, render_size=64, workers=1, masks=True)
    assert torch.equal(m["image"], a["image"]) and m["masks"].shape == (3, 3, 32, 32)  # the masks change no image
    bones, carpals = m["masks"][:, 0] > 0.5, m["masks"][:, 1] > 0.5
    assert 0.02 < bones.float().mean() < 0.5 and not (carpals & ~bones).any()  # the carpals are bones
    # where the masks say bone, the image is brighter than elsewhere in the hand
    hand = a["image"][:, 0] > 0
    assert a["image"][:, 0][bones & hand].mean() > a["image"][:, 0][~bones & hand].mean() + 0.05


@pytest.mark.slow
@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_real_inputs_read_the_films():
    real = T.real_inputs(32)
    rs = real["rsna"]
    assert rs["image"].shape == (28, 1, 32, 32) and len(rs["ids"]) == 28
    assert 1.0 < float(rs["age"].min()) and float(rs["age"].max()) <= 15.01
    assert real["toddlers"]["image"].shape[0] == 10


@pytest.mark.skipif(not RSNA.is_dir(), reason="../shared/rsna-dev absent")
def test_films_in_an_exposed_field_are_cropped_to_their_hand():
    """The real films whose exposed field is brighter than the film around it (chapter 11's table) reach the
    network as hands: their prepared, standardised input is mostly background, as every other film's is, and no
    longer a grey rectangle filling the frame."""
    from baa.book import domains as D

    real = T.real_inputs(32)
    fields = D.exposed_fields(real)
    assert fields["exposed field"].sum() >= 5 and not fields[fields["set"] == "toddlers"]["exposed field"].any()
    assert list(fields["film"][:28]) == real["rsna"]["ids"] and D.exposed_fields(None) is None
    hand = (real["rsna"]["image"] > 0).float().mean((1, 2, 3))
    inside = torch.tensor(fields[fields["set"] == "rsna-dev"]["exposed field"].to_numpy())
    assert float(hand[inside].max()) < 0.5 and abs(float(hand[inside].mean() - hand[~inside].mean())) < 0.1


def test_results_file_when_present():
    res = T.load_results()
    if res is None:
        pytest.skip("artifacts/transfer/results.json absent (python -m baa.experiments.transfer run)")
    for v in res["variants"].values():
        assert set(v["cv"]) == set(T.HEADS) and {"mae", "r", "bias"} <= set(v["zero_shot"])
        assert [int(k) for k in v["curve"]["ridge_residual"]] == list(T.CURVE)


def test_chapter_11_tables_and_figures_from_a_results_file():
    """``baa.book.domains`` renders what ``transfer run`` writes: one row per variant and head, the
    baseline first; a panel per head; the learning curve."""
    import matplotlib.pyplot as plt

    from baa.book import domains as D

    y = np.linspace(2, 16, 10)
    s = lambda m: {"mae": m, "r": 0.5, "bias": 0.1}  # noqa: E731
    v = {"name": "randomised", "zero_shot": s(4.0), "cv": {h: s(2.0) for h in T.HEADS}, "true": y.tolist(),
         "zero_shot_pred": (y + 4).tolist(), "cv_pred": {h: (y + 1).tolist() for h in T.HEADS},
         "curve": {h: {str(k): 3.0 - 0.02 * k for k in T.CURVE} for h in T.HEADS}}
    res = {"baseline": {"mean_loo": s(2.9), "mean_all": s(2.8)}, "variants": {"randomised": v}}
    t = D.results_table(res)
    assert len(t) == 2 + len(T.HEADS) and t.iloc[0]["variant"].startswith("mean age")
    assert t.iloc[1]["mae"] == 4.0 and (t.iloc[2:]["mae"] == 2.0).all()
    assert len([a for a in D.figure_pred_vs_true(res).axes if a.axison]) == 1 + len(T.HEADS)
    assert D.seed_table(res) is None and D.figure_seeds(res) is None
    v["adabn"] = {"zero_shot": s(3.0), "pred": (y + 2).tolist(), "toddler_max": 5.0}
    v["seeds"] = [{"seed": k, "zero_shot": s(4.0 + k), "adabn": s(3.0), "cv": {h: s(2.0) for h in T.HEADS}} for k in range(3)]
    t = D.results_table(res)
    assert len(t) == 3 + len(T.HEADS) and t.iloc[2]["variant"] == "randomised + AdaBN" and t.iloc[2]["mae"] == 3.0
    assert len([a for a in D.figure_pred_vs_true(res).axes if a.axison]) == 2 + len(T.HEADS)
    st = D.seed_table(res)
    assert len(st) == 2 + len(T.HEADS) and st.iloc[0]["mae"] == "5.00 ± 1.00" and st.iloc[1]["mae"] == "3.00 ± 0.00"
    ax = D.figure_seeds(res).axes[0]  # zero-shot row: three seeds, their mean, seed 0 ringed
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["zero-shot", "zero-shot + AdaBN"]
    assert list(ax.lines[0].get_xdata()) == [4.0, 5.0, 6.0] and ax.lines[1].get_xdata()[0] == 5.0
    assert ax.lines[2].get_xdata()[0] == 4.0 and ax.get_legend() is not None
    assert len(D.figure_curve(res).axes[0].lines) == len(T.HEADS) + 1
    plt.close("all")


def test_adabn_leave_one_out_takes_no_film_s_statistics_from_itself():
    """A film's AdaBN reading uses BatchNorm statistics of the other films only: scaling film 2's
    pixels moves every other film's reading (its pixels are in their statistics) but the statistics
    that read film 2 stay the others'."""
    torch.manual_seed(0)
    model = BoNetPlus(width=0.125).eval()
    x = torch.rand(5, 1, 32, 32)
    xt = torch.rand(2, 1, 32, 32)
    real = {"rsna": {"image": x, "age": torch.arange(5.0) * 3}, "toddlers": {"image": xt, "names": ["a", "b"]}}
    a = T.adabn_loo(model, real, T.Recipe())
    assert len(a["pred"]) == 5 and set(a["toddlers"]) == {"a", "b"} and {"mae", "r", "bias"} <= set(a["zero_shot"])
    others = torch.cat([x[[0, 1, 3, 4]], xt])
    assert a["pred"][2] == pytest.approx(float(T.network_inputs(adapt_batchnorm(model, others), x[2:3])[1][0]), abs=1e-5)
    x2 = x.clone()
    x2[2] *= 3.0
    b = T.adabn_loo(model, {**real, "rsna": {**real["rsna"], "image": x2}}, T.Recipe())
    assert not np.isclose(a["pred"][0], b["pred"][0])


def test_unlabelled_films_are_every_real_film_as_the_recipe_feeds_them():
    real = {"rsna": {"image": torch.zeros(3, 1, 8, 8), "raw": torch.ones(3, 1, 8, 8)},
            "toddlers": {"image": torch.zeros(2, 1, 8, 8), "raw": torch.ones(2, 1, 8, 8)}}
    from dataclasses import replace

    assert T.unlabelled(real, T.Recipe()).shape == (5, 1, 8, 8) and T.unlabelled(real, T.Recipe()).sum() == 0
    assert T.unlabelled(real, replace(T.Recipe(), standardise=False)).sum() == 5 * 64
    assert len(T.unlabelled({"rsna": real["rsna"]}, T.Recipe())) == 3
    with pytest.raises(ValueError, match="unlabelled"):
        T.train_bonet({"image": torch.zeros(4, 1, 8, 8), "raw": None, "age": torch.zeros(4), "male": torch.zeros(4)},
                      replace(T.Recipe(), align=1.0))


def test_recipe_meta_records_only_the_anatomy_a_recipe_changes():
    """The shipped file records the recipe without anatomy fields at the phantom's defaults and newer fields at
    theirs, so an earlier recipe rebuilds the same bytes; the shipped model was built by ``SHIPPED``."""
    from dataclasses import replace

    from baa.experiments.shipped import SHIPPED, SHIPPED_VARIANT, recipe_meta
    from baa.experiments.transfer_recipes import VARIANTS
    from baa.weights import load_shipped

    m = recipe_meta(T.Recipe())
    assert "carpal_scale" not in m and m["proportion_spread"] == T.Recipe.proportion_spread
    assert recipe_meta(replace(T.Recipe(), carpal_scale=1.35))["carpal_scale"] == 1.35
    assert "align" not in m and recipe_meta(replace(T.Recipe(), align=0.3))["align"] == 0.3
    assert "detail" not in m and recipe_meta(replace(T.Recipe(), detail=1.5))["detail"] == 1.5
    assert "maps" not in m and recipe_meta(replace(T.Recipe(), maps="bones"))["maps"] == "bones"
    assert "seg_loss" not in m and recipe_meta(replace(T.Recipe(), seg_loss="bce_dice"))["seg_loss"] == "bce_dice"
    assert recipe_meta(SHIPPED) == load_shipped()["meta"]["recipe"] == {**m, **VARIANTS[SHIPPED_VARIANT][1]}


def test_model_card_places_the_shipped_training_in_the_spread():
    """The card's sentence on the spread over seeds gives the recipe's and the image recipe's figures and says
    where the shipped training would rank among the recipe's seeds."""
    from baa.experiments.transfer_card import _seeds_text

    s = lambda m: {"mae": m, "r": 0.5, "bias": 0.0}  # noqa: E731
    run = lambda k, m: {"seed": k, "zero_shot": s(3.0), "adabn": s(2.5), "cv": {T.SHIPPED_HEAD: s(m)},  # noqa: E731
                        "toddlers": {"a": 2.0 + k, "b": 9.0}}
    runs = [run(k, m) for k, m in enumerate([2.3, 2.1, 2.6, 2.2])]
    ev = {"recipe": {"seed": 0}, "cv": {T.SHIPPED_HEAD: s(2.4)}}
    text = _seeds_text({"seeds": runs}, {"seeds": runs[:2]}, ev, "maps")
    assert "(`maps` in chapter 11) trained on 4 seeds" in text and "would rank 4 of 5" in text and "seed-0 training" in text
    assert "toddlers under 4 y 0.50 ± 0.58 of 10" in text and "The image recipe (`images`), on 2 seeds" in text
    assert "is measured by" in _seeds_text({"seeds": runs[:1]}, None, ev, "maps")


def test_model_card_compares_the_maps_read_with_all_three():
    """The card names the maps BoNet+ reads and, for a recipe reading fewer than three, decides each difference
    against the recipe reading all three over their seeds, or says how to measure it."""
    from baa.experiments.transfer_card import ALL_MAPS, _maps_text

    run = lambda r, m, b: {"zero_shot": {"r": r, "bias": b}, "cv": {T.SHIPPED_HEAD: {"mae": m}}}  # noqa: E731
    spread = {ALL_MAPS: {"seeds": [run(0.5, 2.4 + 0.1 * k, 5.0 + k) for k in range(3)]},
              "two": {"seeds": [run(0.7, 2.0 + 0.1 * k, 5.5 - k) for k in range(3)]}}
    text = _maps_text(spread, "two", "bones,epiphyses")
    assert text.startswith("BoNet+ reads the `bones` and `epiphyses` maps only.")
    assert "zero-shot r +0.20 ± 0.00 (beyond twice its error)" in text and "MAE -0.40 ± 0.08 y (beyond" in text
    assert "zero-shot bias -1.50 ± 0.82 y (within the spread)" in text
    assert "Against `bone_maps_bones_dice` it is compared by" in text  # the other comparisons, not yet measured
    assert "Against `bone_maps_no_carpals` it is compared by" in text
    assert "Against BoNet+ reading all three maps (`bone_maps_all_dice`, 3 seeds; `two`, 3;" in text
    assert _maps_text(spread, ALL_MAPS, "bones,carpals,epiphyses") == "BoNet+ reads all three maps."
    assert "--variants bone_maps_all_dice,two" in _maps_text({}, "two", "bones,epiphyses")
    one = _maps_text(spread, ALL_MAPS, "bones", others=((ALL_MAPS, "BoNet+ reading all three maps"),))
    assert one == "BoNet+ reads the `bones` map only."  # not compared with itself
    assert _maps_text(spread, "images", "") == "BoNet+ reads the image, no maps."
    assert "Against `bone_maps_jitter_tubular` it is compared by" in text


def test_model_card_reads_a_joint_training_on_bone_maps_against_its_recipe_s_head():
    from baa.experiments.transfer_card import _joint_maps_text

    run = lambda k, m: {"seed": k, "cv": {T.SHIPPED_HEAD: {"mae": m}}}  # noqa: E731
    joint = lambda *ks: {"variant": "bone_maps_jitter", "repeat": 32, "folds": 4,  # noqa: E731
                         "seeds": [{"seed": k, "cv": {"mae": 1.5 + 0.1 * k, "r": 0.7}} for k in ks]}
    res = {"variants": {"bone_maps_jitter": {"seeds": [run(k, 2.5 + 0.1 * k) for k in range(3)]}},
           "joint": {"joint_x32": {**joint(0, 1), "variant": "images"}, "maps_joint_x32": joint(0)}}
    one = _joint_maps_text(res)
    assert one.startswith("On bone maps: `maps_joint_x32` (`bone_maps_jitter`'s maps, the other folds' real films among "
                          "the phantoms x32, 4 folds, 1 seed): MAE 1.50 y, r 0.70")
    assert one.endswith("on the same seed, leave-one-out: MAE 2.50 y (one seed decides nothing).")
    assert one.count("joint_x32") == 1  # the image recipe's joint training is not on maps
    two = _joint_maps_text({**res, "joint": {"maps_joint_x32": joint(0, 1)}})
    assert "2 seeds): MAE 1.55 y" in two
    assert ("(leave-one-out, its 2 trainings of the same seeds stored beside it: MAE 2.55 ± 0.07 y): MAE -1.00 ± 0.07 y "
            "(beyond twice its error)." in two)
    assert _joint_maps_text({"joint": {"joint_x8": {**joint(0), "variant": "images"}}}) == "None of these was tried on bone maps."
    tuned = _joint_maps_text({**res, "joint": {"maps_finetune_x32": {**joint(0, 1), "phantoms": "before"}}})
    assert tuned.startswith("On bone maps: `maps_finetune_x32` (`bone_maps_jitter`'s maps, BoNet+ trained on the phantoms, "
                            "then fine-tuned on the other folds' real films alone x32, 4 folds, 2 seeds)")
    tuned = {"phantoms": "before", "true": [2.0, 4.0], "seeds": [  # the readings kept: its mean with the head as well
        {"seed": k, "cv": {"mae": 1.0, "r": 0.7}, "pred": [2.0, 4.0 + k], "head_pred": [3.0, 4.0]} for k in (0, 1)]}
    both = _joint_maps_text({**res, "joint": {"maps_finetune_x32": {**joint(0, 1), **tuned}}})
    assert ("; `maps_finetune_x32 + ridge_residual` (film by film the mean of `maps_finetune_x32`'s reading and its "
            "phantom-trained network's ridge_residual (leave-one-out), 2 seeds): MAE 0.38 y") in both
    for k, e in enumerate(tuned["seeds"]):
        e["toddlers"] = {"a.png": -1.0 - 2 * k, "b.png": 2.0}
    both = _joint_maps_text({**res, "joint": {"maps_finetune_x32": {**joint(0, 1), **tuned}}})
    assert "4 folds, 2 seeds): MAE 1.00 y, r 0.70, youngest toddler reading -2.00 ± 1.41 y;" in both
    for k, e in enumerate(res["variants"]["bone_maps_jitter"]["seeds"]):  # the head's r recorded: r is read too
        e["cv"][T.SHIPPED_HEAD]["r"] = 0.5 + 0.02 * k
    assert _joint_maps_text({**res, "joint": {"maps_joint_x32": joint(0, 1)}}).endswith(
        "MAE -1.00 ± 0.07 y (beyond twice its error), r +0.19 ± 0.01 (beyond twice its error).")


def test_model_card_names_the_map_jitter_of_the_recipe():
    from baa.experiments.transfer_card import _jitter_text

    assert _jitter_text({}) == "" and _jitter_text({"map_jitter": 0.0}) == ""
    assert _jitter_text({"map_jitter": 0.25}).startswith(", each map dilated or eroded by one pixel with probability 0.25")
    assert "each map eroded by" in _jitter_text({"map_jitter": 0.5, "map_dilate": 0.0})
    assert "by 1 to 2 pixels with probability 0.5" in _jitter_text({"map_jitter": 0.5, "map_radius": 2})


def test_model_card_says_when_the_build_time_is_unknown():
    from baa.experiments.transfer_card import _wall_text

    assert _wall_text(188.3).endswith("development machine: 188.3 s.")
    assert "not measured" in _wall_text(None)


def test_train_bonet_refuses_a_map_jitter_without_maps():
    from baa.experiments.transfer import Recipe, train_bonet

    with pytest.raises(ValueError, match="map_jitter"):
        train_bonet({"image": torch.zeros(2, 1, 64, 64), "age": torch.ones(2), "male": torch.ones(2)}, Recipe(map_jitter=0.5))


def test_model_card_says_where_the_recipe_stands_against_the_mean_age():
    """The card's sentence on the recipe with its head against always answering the mean age is measured:
    below, above or within one SD of the leave-one-out baseline."""
    from baa.experiments.transfer_card import _against_mean

    runs = lambda *ms: {"seeds": [{"cv": {T.SHIPPED_HEAD: {"mae": m}}} for m in ms]}  # noqa: E731
    base = {"mean_loo": {"mae": 2.89}}
    assert "is below that" in _against_mean(base, runs(2.3, 2.4, 2.5))
    assert "is above that" in _against_mean(base, runs(3.5, 3.6, 3.4))
    assert "within one SD" in _against_mean(base, runs(2.6, 3.0, 3.4)) and "3.00 ± 0.40 y over 3 trainings" in _against_mean(base, runs(2.6, 3.0, 3.4))
    assert "measured by" in _against_mean(None, None)


def test_heldout_zero_shot_never_aligns_on_the_film_it_reads(monkeypatch):
    """Each fold's network is aligned on the other RSNA films and the toddlers, and reads only its fold."""
    n = 7
    rsna = {"image": torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone(),
            "age": torch.arange(n, dtype=torch.float32) + 1.0}
    real = {"rsna": rsna, "toddlers": {"image": torch.full((2, 1, 4, 4), -1.0)}}
    pools = []
    monkeypatch.setattr(T, "train_bonet", lambda data, r, unlabelled=None, **k: pools.append(unlabelled) or len(pools))
    # the "network" k reads a film as its own index + 1 + 10 k (its true age + 10 k)
    monkeypatch.setattr(T, "network_inputs", lambda model, x: (None, x[:, 0, 0, 0].numpy() + 1 + 10 * (model - 1)))
    out = T.heldout_zero_shot({}, T.Recipe(align=1.0), real, folds=2)
    assert len(pools) == 2
    for k, pool in enumerate(pools):
        seen = set(pool[:, 0, 0, 0].tolist())
        assert -1.0 in seen and all((i % 2 == k) != (i in seen) for i in range(n))
    assert out["pred"] == [float(i + 1 + 10 * (i % 2)) for i in range(n)]
    assert out["zero_shot"]["mae"] == pytest.approx(10 * 3 / 7)


def test_chapter_says_which_shipped_file_was_measured(tmp_path):
    from baa.experiments.shipped import measured_text
    from baa.weights import sha256

    assert "make measure-weights" in measured_text(None)
    f = tmp_path / "bonet_real.pt"
    f.write_bytes(b"weights")
    assert measured_text({"shipped": {"sha256": sha256(f)}}, f).endswith("the file `baa assess` reads.")
    other = measured_text({"shipped": {"sha256": "0" * 64}}, f)
    assert other.startswith("Measured: a build with sha256 000000000000…, not the bonet_real.pt") and "another draw" in other
    assert "(absent)" in measured_text({"shipped": {"sha256": "0" * 64}}, tmp_path / "none.pt")


def test_chapter_occlusion_blanks_each_map_alone_where_bonet_reads_several():
    """Chapter 11's band occlusion (``domains.occlusion``): all maps at once for every set, and for the RSNA
    films one map at a time; a network that reads one map (or the image) gets no per-map rows."""
    from types import SimpleNamespace

    from baa.book import domains as D
    from baa.models import BoNetPlus
    torch.manual_seed(0)
    x = lambda n: torch.rand(n, 2, 32, 32)  # noqa: E731
    real = {"rsna": {"input": x(3), "age": torch.tensor([2.0, 6.0, 9.0])}}
    inp = {"real": real, "phantoms": {"input": x(4), "age": torch.tensor([1.0, 5.0, 8.0, 12.0])}}
    pipe = SimpleNamespace(regressor=SimpleNamespace(bonet=BoNetPlus(width=0.125, in_channels=2).eval()),
                           maps=("tubular", "epiphyses"))
    occ = D.occlusion({**inp, "models": {"pipe": pipe}}, bands=4, tta=1)
    assert list(occ) == ["RSNA films", "RSNA films, tubular map only", "RSNA films, epiphyses map only",
                         "phantoms of the same ages"]
    assert all(v.shape == (3, 4) for v in occ.values())
    assert not np.allclose(occ["RSNA films, tubular map only"], occ["RSNA films"])
    pipe.maps = ("bones",)
    assert list(D.occlusion({**inp, "models": {"pipe": pipe}}, bands=4, tta=1)) == ["RSNA films", "phantoms of the same ages"]


_PHANTOM_BYTES = """
import hashlib, torch
from baa.experiments.transfer import phantom_inputs
torch.set_num_threads(1)
d = phantom_inputs(24, 64, 0, workers=1, masks=True)
print(hashlib.sha256(d["raw"].numpy().tobytes() + d["masks"].numpy().tobytes()).hexdigest())
"""


def test_training_phantoms_are_the_same_bytes_whatever_the_vector_instructions():
    """The phantoms a rebuild trains on (rendered, randomised, written as PNGs, prepared) do not hang on the
    machine's SIMD: numpy held to x86-64-v2 and torch to AVX2 give the bytes of the machine's own best (so a
    rebuild on another x86 CPU with AVX2 differs by its trainings' kernels only: chapter 11)."""
    import os
    import subprocess
    import sys

    def digest(**env):
        out = subprocess.run([sys.executable, "-c", _PHANTOM_BYTES], capture_output=True, text=True, check=True,
                             env={**os.environ, **env})
        return out.stdout.split()[-1]

    assert digest() == digest(NPY_DISABLE_CPU_FEATURES="X86_V4 X86_V3", ATEN_CPU_CAPABILITY="avx2")
