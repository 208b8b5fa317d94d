"""Which phantom closes the gap (``baa.experiments.transfer_recipes``): the table chapter 11 renders,
the comparison's resumption, the variants' names. Tests that train on real films skip when ../shared
is absent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from baa.book import domains as D
from baa.experiments import transfer as T
from baa.experiments import transfer_recipes as R
from baa.phantom import PhantomConfig

RSNA = Path(__file__).resolve().parents[1].parent / "shared" / "rsna-dev"


def _scores(k: float) -> dict:
    s = lambda m: {"mae": m, "r": 0.5 + 0.1 * k, "bias": 1.0}  # noqa: E731
    return {"seed": int(k), "zero_shot": s(3.0 + k), "adabn": s(2.5), "cv": {h: s(2.0 + 0.5 * k) for h in T.HEADS},
            "phantom": s(1.5), "toddler_max": 10.0 + k}


def test_recipe_rows_are_mean_and_sd_over_seeds():
    res = {"variants": {"shipped": {"what": "w", "recipe": {}, "seeds": [_scores(0), _scores(2)]},
                        "empty": {"what": "not run", "recipe": {}, "seeds": []}}}
    rows = R.recipe_rows(res)
    assert [r["variant"] for r in rows] == ["shipped"]
    r = rows[0]
    assert r["seeds"] == 2 and r["zero-shot MAE"] == "4.00 ± 1.41" and r["ridge_residual MAE"] == "2.50 ± 0.71"
    assert r["phantom MAE"] == "1.50 ± 0.00" and r["oldest toddler"] == "11.00 ± 1.41"
    assert r["zero-shot MAE, unseen films"] == r["zero-shot MAE"]  # not aligned: its zero-shot saw no real film
    res["variants"]["shipped"]["seeds"][0]["zero_shot_heldout"] = {"mae": 5.0, "r": 0.1, "bias": 4.0}
    assert R.recipe_rows(res)[0]["zero-shot MAE, unseen films"] == "5.00 ± 0.00"
    del res["variants"]["shipped"]["seeds"][0]["zero_shot_heldout"]
    assert len(D.recipe_table(res)) == 1
    assert T.mean_sd([4.79]) == "4.79 (one training)"
    fig = D.figure_recipes(res, baseline=2.9)
    assert len(fig.axes) == 4 and fig.axes[0].get_yticklabels()[0].get_text() == "shipped"
    plt.close("all")


def test_every_variant_is_a_recipe_and_a_phantom():
    """Each variant's fields are the Recipe's, its anatomy fields PhantomConfig's; ``shipped`` changes nothing."""
    assert R.VARIANTS["shipped"][1] == {}
    for what, fields in R.VARIANTS.values():
        r = replace(T.Recipe(), **fields)
        PhantomConfig(**{f: v for f, v in r.phantoms().items() if f in T.ANATOMY})
        assert what
    with pytest.raises(SystemExit):
        R.main(["--variants", "no_such_variant"])


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
