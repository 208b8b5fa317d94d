"""The claims' verdicts on hand-made cases: holds, fails, undecided, decided on the interval."""

import json

import numpy as np
import pytest

from baa.analysis.claims import (bootstrap, claims, claims_markdown, combine, load_claims, paper_results, verdict_above,
                                 verdict_below, verdict_within, write_claims)


@pytest.mark.parametrize("ci, bound, want", [((-0.3, -0.1), 0.0, "holds"), ((0.1, 0.2), 0.0, "fails"),
                                             ((-0.1, 0.2), 0.0, "undecided"), ((0.01, 0.04), 0.05, "holds")])
def test_verdict_below(ci, bound, want):
    assert verdict_below(ci, bound) == want


@pytest.mark.parametrize("ci, want", [((98.5, 99.5), "holds"), ((95.0, 97.9), "fails"), ((97.0, 99.0), "undecided")])
def test_a_threshold_is_judged_on_the_interval_not_the_point(ci, want):
    """"Over 98 %": 97.1 % with an interval reaching 99 % is undecided, not failed."""
    assert verdict_above(ci, 98.0) == want


@pytest.mark.parametrize("ci, want", [((-0.05, 0.08), "holds"), ((0.12, 0.3), "fails"), ((-0.4, -0.11), "fails"),
                                      ((0.02, 0.2), "undecided")])
def test_verdict_within(ci, want):
    assert verdict_within(ci, 0.10) == want


def test_combine():
    assert combine(["holds", "holds"]) == "holds"
    assert combine(["holds", "undecided"]) == "undecided"
    assert combine(["undecided", "fails", "holds"]) == "fails"


def test_bootstrap_interval_narrows_with_more_images_and_repeats():
    rng = np.random.default_rng(0)
    small, large = rng.normal(0.1, 1, 50), rng.normal(0.1, 1, 5000)
    _, (lo_s, hi_s) = bootstrap(lambda d: d.mean(), small, n_boot=1000)
    est, (lo_l, hi_l) = bootstrap(lambda d: d.mean(), large, n_boot=1000)
    assert hi_l - lo_l < (hi_s - lo_s) / 5
    assert lo_l < est < hi_l
    assert bootstrap(lambda d: d.mean(), small) == bootstrap(lambda d: d.mean(), small)  # seeded


def _assessment(n=200, gap=0.5, noise=0.3, seed=0):
    """Per-image ages where CQ and DQ are equally good and beat NQ by ``gap`` years, NQ beats plain
    by ``gap`` on poor images; on high quality every pipeline errs by about 1 year."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(0, 18, n)
    base = {"plain": 1.0 + 2 * gap, "nq": 1.0 + gap, "cq": 1.0, "dq": 1.0}
    pred, mae = {}, {}
    for name, err in base.items():
        for q in ("high", "noise", "label", "lowres", "all"):
            e = 1.0 if q == "high" else err
            p = true + rng.choice([-1.0, 1.0], n) * np.abs(e + noise * rng.normal(size=n))
            pred.setdefault(name, {})[q] = p.tolist()
            mae.setdefault(name, {})[q] = float(np.abs(p - true).mean())
    conf = [[99, 1, 0, 0], [0, 100, 0, 0], [0, 0, 100, 0], [0, 0, 0, 100]]
    return {"mae": mae, "pred": pred, "true": true.tolist(), "confusion": conf, "classifier_accuracy": 399 / 400}


def test_claims_by_dq_budget_shows_which_failures_were_dq_s_schedule():
    """The book's DQ as bad as plain BoNet+ on low resolution fails "CQ and DQ both beat NQ"; DQ trained
    on the experts' budget, as good as CQ, makes it hold: the row says the verdict changed."""
    import copy

    from baa.analysis.claims import claims_by_dq_budget, dq_budget_view

    good = _assessment()
    book = copy.deepcopy(good)
    for key in ("mae", "pred"):
        book[key]["dq"]["lowres"] = good[key]["plain"]["lowres"]
    budget = {"factor": 3, "mae": good["mae"]["dq"], "pred": good["pred"]["dq"]}
    assert claims_by_dq_budget(book, None) is None
    view = dq_budget_view(book, budget)
    assert view["pred"]["dq"]["lowres"] == good["pred"]["dq"]["lowres"] and view["pred"]["cq"] == book["pred"]["cq"]
    assert book["pred"]["dq"]["lowres"] == good["pred"]["plain"]["lowres"]  # the original is untouched
    row = claims_by_dq_budget(book, budget, n_boot=300).set_index("claim").loc[
        "CQ and DQ both beat NQ on every poor quality"]
    assert row["DQ of the book"].startswith("fails") and row["DQ on 3x the epochs"].startswith("holds")
    assert row["changes with DQ's budget"]


def test_claims_on_a_clear_sample():
    items = {c.claim: c for c in claims(_assessment(gap=0.5), n_boot=500)}
    assert items["CQ and DQ both beat NQ on every poor quality"].verdict == "holds"
    assert items["CQ, DQ and NQ all beat plain BoNet+ on every poor quality"].verdict == "holds"
    assert items["One restoration model (DQ) handles every degradation, and all three at once"].verdict == "holds"
    assert items["The quality classifier is over 98 % accurate"].verdict == "holds"
    assert items["Training on every quality (NQ) costs accuracy on high-quality images"].verdict != "holds"
    for c in items.values():
        assert c.ci95[0] <= c.estimate <= c.ci95[1]


def test_a_reversed_sample_fails_and_a_small_gap_is_undecided():
    reversed_ = {c.claim: c.verdict for c in claims(_assessment(gap=-0.5), n_boot=500)}
    assert reversed_["CQ and DQ both beat NQ on every poor quality"] == "fails"
    small = {c.claim: c.verdict for c in claims(_assessment(n=30, gap=0.02, noise=1.0), n_boot=500)}
    assert small["CQ and DQ both beat NQ on every poor quality"] == "undecided"


def test_the_loss_claim_pools_the_folds():
    rng = np.random.default_rng(1)
    true = rng.uniform(0, 18, 100)

    def fold(err):
        return {"pred": (true + err * rng.choice([-1, 1], 100)).tolist(), "true": true.tolist()}

    loss = {"mae": {"folds": [fold(0.8), fold(0.8)], "mae_mean": 0.8, "mdae_mean": 0.8},
            "mse": {"folds": [fold(1.2), fold(1.2)], "mae_mean": 1.2, "mdae_mean": 1.2}}
    (c,) = claims(loss=loss, n_boot=500)
    assert c.verdict == "holds" and c.ci95[1] < 0 and c.unit == "years"
    assert "200 validation images of 2 folds" in c.evidence


def test_the_paper_numbers_give_points_and_claims_json_round_trips(tmp_path):
    items = claims(*paper_results())
    assert len(items) == 8 and all(c.ci95[0] == c.ci95[1] == c.estimate for c in items)
    write_claims(items, tmp_path / "claims.json")
    rows = json.loads((tmp_path / "claims.json").read_text())
    assert {"claim", "verdict", "estimate", "ci95"} <= set(rows[0])
    assert all(r["verdict"] in ("holds", "fails", "undecided") and len(r["ci95"]) == 2 for r in rows)
    assert [c.verdict for c in load_claims(tmp_path / "claims.json")] == [c.verdict for c in items]
    assert claims_markdown(items).startswith("Of 8 claims")


def test_every_claim_holds_on_the_papers_own_numbers():
    got = claims(*paper_results())
    assert all(c.holds for c in got), [(c.claim, c.evidence) for c in got if not c.holds]


def test_point_results_are_decided_on_the_point():
    """Results without per-image ages (e.g. a table typed from a paper) give a degenerate interval."""
    a, loss = paper_results()
    a["mae"]["nq"]["label"] = 0.5  # NQ beats CQ and DQ on label
    a["mae"]["dq"]["high"] = 0.9  # DQ costs 18 % on high quality
    loss["mse"]["mae_mean"] = 0.5  # MSE wins
    a["classifier_accuracy"] = 0.9
    got = {c.claim: c for c in claims(a, loss)}
    assert got["L_MAE trains a better BoNet+ than L_MSE (Table 2)"].verdict == "fails"
    assert got["CQ and DQ both beat NQ on every poor quality"].verdict == "fails"
    assert next(c for k, c in got.items() if k.startswith("Restoration costs nothing")).verdict == "fails"
    assert got["The quality classifier is over 98 % accurate"].verdict == "fails"
    assert claims(None, None) == []


def test_claims_by_recipe_shows_which_verdicts_depend_on_the_baseline():
    """The same test images with a beyond-the-paper plain BoNet+ as good as CQ on poor images: "CQ,
    DQ and NQ all beat plain BoNet+" holds with the paper's BoNet+ and fails with ours."""
    from baa.analysis.claims import claims_by_recipe, recipe_view

    a = _assessment()
    assert recipe_view(a) is None and claims_by_recipe(a) is None
    b = _assessment(gap=0.0, seed=1)  # every pipeline equally good
    for key in ("mae", "pred"):
        a[key].update({f"{k}_beyond": v for k, v in b[key].items()})
    view = recipe_view(a)
    assert view["pred"]["plain"] == b["pred"]["plain"] and view["mae"]["cq"] == b["mae"]["cq"]
    assert a["pred"]["plain"] != b["pred"]["plain"]  # the original is untouched
    df = claims_by_recipe(a, n_boot=300).set_index("claim")
    row = df.loc["CQ, DQ and NQ all beat plain BoNet+ on every poor quality"]
    assert row["paper's BoNet+"].startswith("holds") and not row["our BoNet+ (beyond the paper)"].startswith("holds")
    assert row["depends on the recipe"]
