"""Bone maps (``baa.experiments.bone_maps``): what BoNet+ reads in the ``bone_maps`` variants of chapter 11,
and how the segmenter's learning is scored."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from baa.experiments import bone_maps as B
from baa.experiments import transfer as T
from baa.models import BoNetPlus


class Threshold(torch.nn.Module):
    """A stand-in segmenter: every map is 'the image is above 0.5' (logits +-20)."""

    def forward(self, x):
        return (40 * (x > 0.5).float() - 20).repeat(1, 3, 1, 1)


def _set(n=4, side=8):
    x = torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(0))
    return {"image": x, "raw": 1 - x, "masks": (x > 0.5).float().repeat(1, 3, 1, 1), "age": torch.arange(n * 1.0)}


def test_maps_are_the_named_channels_of_the_images_the_recipe_reads():
    d, seg = _set(), Threshold()
    one = B.with_maps(seg, d, replace(T.Recipe(), maps="bones"))
    assert one["maps"].shape == (4, 1, 8, 8) and torch.allclose(one["maps"], (d["image"] > 0.5).float(), atol=1e-6)
    three = B.with_maps(seg, d, replace(T.Recipe(), maps="bones,carpals,epiphyses"))
    assert three["maps"].shape == (4, 3, 8, 8) and three["image"] is d["image"]
    assert replace(T.Recipe(), maps="bones").view(one) is one["maps"]
    raw = B.with_maps(seg, d, replace(T.Recipe(), maps="bones", standardise=False))  # the segmenter reads the raw images
    assert torch.allclose(raw["maps"], (d["raw"] > 0.5).float(), atol=1e-6)
    with pytest.raises(ValueError):
        B.with_maps(seg, d, replace(T.Recipe(), maps="tendons"))


def test_dice_is_one_for_the_masks_and_zero_for_their_opposite():
    d, r = _set(), T.Recipe()
    assert all(v == pytest.approx(1.0) for v in B.dice(Threshold(), d, r).values())
    inverse = {**d, "masks": 1 - d["masks"]}
    assert all(v == pytest.approx(0.0) for v in B.dice(Threshold(), inverse, r).values())
    assert set(B.dice(Threshold(), d, r)) == {"bones", "carpals", "epiphyses"}


def test_the_chapter_s_example_holds_every_map_of_the_real_films_and_phantoms_over_the_ages():
    d = _set(10)
    real = {"rsna": {**_set(3), "ids": ["a", "b", "c"]}, "toddlers": {**_set(2), "names": ["t1", "t2"]}}
    ex = B.example(Threshold(), real, d, replace(T.Recipe(), maps="bones"), n_phantoms=3)
    assert ex["rsna"]["maps"].shape == (3, 3, 8, 8) and ex["rsna"]["ids"] == ["a", "b", "c"]
    assert ex["toddlers"]["names"] == ["t1", "t2"] and ex["recipe"] == "bones"
    assert ex["phantoms"]["age"].tolist() == [0.0, 4.0, 9.0]  # youngest to oldest
    assert ex["phantoms"]["masks"].shape == (3, 3, 8, 8)


def test_the_epiphysis_target_is_the_growth_region_or_the_bone_inside_it():
    m = torch.zeros(1, 3, 4, 4)
    m[0, 0, :, :2] = 1.0  # bones: the left half
    m[0, 2, :2] = 1.0  # the growth region: the top half
    assert B.targets(m, T.Recipe()) is m
    t = B.targets(m, replace(T.Recipe(), epiphysis_mask="bone"))
    assert t[0, 2].sum() == 4 and t[0, 2, :2, :2].eq(1).all()  # the top-left quarter
    assert torch.equal(t[:, :2], m[:, :2]) and m[0, 2].sum() == 8  # the other maps, and the masks given, untouched
    with pytest.raises(ValueError, match="epiphysis mask"):
        B.targets(m, replace(T.Recipe(), epiphysis_mask="nuclei"))


def test_a_segmenter_trains_on_phantoms_and_finds_their_bones():
    data = T.phantom_inputs(24, 32, seed=0, render_size=64, workers=1, masks=True)
    r = replace(T.Recipe(), maps="bones", batch_size=8)
    a, b = B.train_segmenter(data, r, epochs=3), B.train_segmenter(data, r, epochs=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))  # seeded
    assert B.dice(a, data, r)["bones"] > 0.2  # three epochs on 24 phantoms: it has begun to find them


def test_map_areas_are_shares_of_the_frame_and_compared_with_phantoms_of_the_same_age():
    maps = torch.zeros(2, 3, 4, 4)
    maps[0, 0, :2] = 1.0  # half the frame
    maps[1, 1, 0, 0] = 0.9  # one pixel of sixteen
    assert B.map_areas(maps).tolist() == [[0.5, 0.0, 0.0], [0.0, 1 / 16, 0.0]]
    phantoms = torch.zeros(3, 3, 4, 4)
    phantoms[:, 0, 0] = 1.0  # a quarter of the frame, at every age
    phantoms[2, 1, 0, :2] = 1.0  # carpals only in the oldest
    r = B.areas_against_phantoms(maps, [1.0, 10.0], phantoms, [0.5, 1.4, 9.5])
    assert r[0, 0] == 2.0 and r[1, 1] == 0.5 and r[1, 0] == 0.0
    assert np.isnan(r[0, 1])  # no carpal in the phantoms of that age: no ratio
    assert np.isnan(B.areas_against_phantoms(maps, [30.0, 1.0], phantoms, [0.5, 1.4, 9.5])[0]).all()  # none that old


def test_map_sensitivity_reads_the_maps_as_segmented_then_each_grown_or_shrunk():
    torch.manual_seed(0)
    bonet = BoNetPlus(width=0.125, in_channels=2).eval()
    maps = torch.zeros(6, 2, 32, 32)
    maps[:, :, 10:20, 12:18] = 1.0
    maps[:, 1, 22:26, 14:16] = 1.0
    age = np.linspace(2, 12, 6)
    rows = B.map_sensitivity(bonet, maps, age, ("bones", "epiphyses"), steps=(-1, 2))
    assert [(r["map"], r["step"]) for r in rows] == [("", 0), ("bones", -1), ("bones", 2), ("epiphyses", -1),
                                                     ("epiphyses", 2)]
    assert rows[0] == {"map": "", "step": 0, **T.scores(T.network_inputs(bonet, maps)[1], age)}
    grown = maps.clone()
    grown[:, 1:] = torch.nn.functional.max_pool2d(torch.nn.functional.max_pool2d(maps[:, 1:], 3, 1, 1), 3, 1, 1)
    assert rows[-1]["mae"] == pytest.approx(T.scores(T.network_inputs(bonet, grown)[1], age)["mae"])
    assert rows[-1]["mae"] != rows[0]["mae"]
