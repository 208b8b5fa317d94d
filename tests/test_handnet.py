"""The hand classifier (issue 21): its synthetic non-hands, a deterministic rebuild, the shipped
ensemble on files it was not trained on, and its place in the hand check."""

from __future__ import annotations

import numpy as np
import pytest

from baa.assess import handcheck as H
from baa.assess import handnet as N
from baa.phantom import PhantomConfig, render
from baa.weights import load_hand_classifier, sha256


@pytest.fixture(scope="module")
def phantom():
    r = render([3], seed=5, config=PhantomConfig(size=128), masks=True)
    return r["image"][0, 0].numpy(), r["masks"]["hand"][0, 0].numpy().astype(bool)


@pytest.mark.parametrize("kind", N.FAMILIES)
def test_every_family_makes_a_non_hand_of_the_phantoms_size(phantom, kind):
    img, hand = phantom
    a = N.synthetic_non_hand(kind, np.random.default_rng(0), img, hand)
    assert a.shape == img.shape and np.isfinite(a).all() and np.ptp(a) > 0
    b = N.synthetic_non_hand(kind, np.random.default_rng(0), img, hand)
    assert np.array_equal(a, b)  # same seed, same image
    if kind in ("silhouette", "hand painted out"):  # no trace of the bones left: the hand is flat
        assert a[hand].std() < 0.25 * img[hand].std()


def test_no_set_measures_the_classifier_on_a_phantom_it_trained_on():
    """Training draws phantoms 0 .. Recipe.n - 1; phantom_set and the non-hand sets draw elsewhere."""
    from baa.assess import handsets

    assert N.Recipe().n <= min(1000 * s for s in (64, 96, 128, 192, 256)) and N.Recipe().n <= handsets.NON_HAND_PHANTOMS


def test_an_unknown_family_is_an_error(phantom):
    with pytest.raises(ValueError, match="unknown non-hand family"):
        N.synthetic_non_hand("a cat", np.random.default_rng(0), *phantom)


@pytest.mark.slow
def test_rebuild_is_deterministic_and_loads(tmp_path):
    r = N.Recipe(n=14, sizes=(64,), epochs=1, members=2, batch=8)
    # the same file name in two folders (torch.save writes the name into the archive)
    a = N.rebuild(r, tmp_path / "a" / "handnet.pt", shared=tmp_path / "no-shared", progress=False)
    b = N.rebuild(r, tmp_path / "b" / "handnet.pt", shared=tmp_path / "no-shared", progress=False)
    assert a["sha256"] == b["sha256"] == sha256(tmp_path / "a" / "handnet.pt")
    m = load_hand_classifier(tmp_path / "a" / "handnet.pt")
    assert len(m["nets"]) == 2 and m["size"] == 64 and m["threshold"] == r.threshold
    assert m["meta"]["real_films"] == []


def test_the_shipped_classifier_tells_hands_from_what_it_never_saw(tmp_path):
    """Phantoms of a seed it was not trained on read as hands; non-hands of the held-out set that
    the image rule accepts (an MR slice, a flat silhouette, strokes) do not."""
    m = load_hand_classifier()
    assert m["threshold"] == 0.5 and len(m["nets"]) == N.Recipe().members
    hands = H.phantom_set(tmp_path / "h", sizes=(64, 192), per_size=3, seed=3)
    neg = H.heldout_negative_set(tmp_path / "n")
    p_hand = N.probabilities(m["nets"], N.prepared_files(list(hands.values()), m["size"]))
    p_neg = N.probabilities(m["nets"], N.prepared_files([neg[k] for k in ("MR slice", "hand silhouette", "strokes")], m["size"]))
    assert (p_hand >= m["threshold"]).all(), p_hand
    assert (p_neg < m["threshold"]).all(), p_neg


def test_the_classifier_has_the_last_word(phantom, monkeypatch):
    img = phantom[0]
    c = H.check_image(img)
    assert c.hand and c.features["hand_probability"] >= 0.5
    monkeypatch.setattr(H, "hand_probability", lambda image: 0.125)
    c = H.check_image(img)
    assert not c.hand and c.reason == "out of the training distribution (hand classifier: probability 0.125 < 0.5)"
    assert c.features["hand_probability"] == 0.125


def test_rates_markdown_names_both_sets():
    one = {"false_refusal_rate": 0.0, "false_acceptance_rate": 0.5, "n_hands": 3, "n_negatives": 2, "refused_hands": {},
           "accepted_negatives": {"moon": 0.9}}
    text = H.rates_markdown({**one, "held_out": {**one, "accepted_negatives": {}, "false_acceptance_rate": 0.0}})
    assert "thresholds were set on: false refusals **0.0%** of 3 hands (none), false acceptances **50.0%** of 2 non-hands (moon)" in text
    assert "Held out (set on none of them): false refusals **0.0%** of 3 hands (none), false acceptances **0.0%** of 2 non-hands (none)" in text


@pytest.mark.slow
def test_measure_gives_the_classifiers_probabilities_and_the_figure_draws_them(tmp_path):
    from baa.book.domains import figure_hand_probabilities

    r = H.measure([], tmp_path, every=10)
    groups = r["hand_probability"]
    assert list(groups) == ["real films", "phantoms", "non-hands (negative_set)", "non-hands (held out)"]
    assert groups["real films"] == {} and len(groups["phantoms"]) == r["n_hands"] + r["held_out"]["n_hands"]
    assert min(groups["phantoms"].values()) >= 0.5  # phantoms it was not trained on read as hands
    assert r["false_acceptance_rate"] == r["held_out"]["false_acceptance_rate"] == 0
    fig = figure_hand_probabilities(r)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][1] == f"phantoms ({len(groups['phantoms'])})"
    labels = [t.get_text() for t in figure_hand_probabilities(r, cross_validated={"a.png": 0.9}).axes[0].get_yticklabels()]
    assert labels[:2] == ["real films, cross-validated (1)", "real films, shipped model (trained on them) (0)"]
