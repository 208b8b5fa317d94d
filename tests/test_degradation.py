"""baa.analysis.degradation: chapter 2's facts about the degradations, on small inputs."""

import math

import numpy as np
import pytest
import torch

from baa import degrade as D
from baa.analysis import degradation as G


@pytest.fixture(scope="module")
def ref():
    return G.reference_set(seed=0, n=4, size=32)


def test_parameters_are_the_constants():
    t = G.parameter_table()
    assert t.loc["PHOTONS", "value"] == D.PHOTONS and t.loc["LOWRES_FACTOR", "value"] == D.LOWRES_FACTOR
    p = G.photons_at((0.0, 1.0))
    assert p["v = 0"] == D.PHOTONS and p["v = 1"] == round(D.PHOTONS * math.exp(-D.LINE_INTEGRAL_SCALE), 1)


def test_noise_table_tracks_the_delta_method(ref):
    table, noisy = G.noise_table(ref["image"], seed=2, levels=(10000.0,))  # the default PHOTONS is added
    assert set(noisy) == {100.0, 10000.0}
    assert (table["PSNR measured (dB)"].diff().iloc[1]) > 15  # two decades of dose: ~20 dB
    assert np.allclose(table["PSNR measured (dB)"], table["PSNR predicted (dB)"], atol=2.0)
    assert "dB per decade" in G.noise_text(table)


def test_poisson_check_sees_poisson_noise():
    c = G.poisson_check(seed=3, rows=1500, cols=24)
    assert abs(c["slope"] - 1) < 0.1 and c["variance_rise"] > 3 and c["bias_at_1"] < 0
    facts = G.poisson_facts(c)
    assert facts["slope of variance vs mean counts"] == round(c["slope"], 3)
    assert "Poisson: 1" in G.poisson_text(c)


def test_label_region_and_cover(ref):
    r = G.label_region(64, n=300, seed=5)
    assert (r["first"], r["last"]) == (13, 50)
    assert r["coverage"][: r["first"]].sum() == 0 and r["coverage"][r["last"] + 1:].sum() == 0
    lo, hi = D.LABEL_FRACTION
    assert float(r["sides"].min()) >= lo - 1 / 64 and float(r["sides"].max()) <= hi + 1 / 64
    cover = G.label_cover(ref["image"], ref["masks"], seed=6)
    assert 0 <= cover["hand share, anywhere"] <= cover["hand share, centre"] <= 1
    assert (cover["labelled"][cover["label_mask"]] == 0).all()
    facts = G.label_facts(r, cover)
    assert facts["rows and columns"] == "13-50" and "13-50" in G.label_text(r, cover, 4)


def test_statistics_fingerprints(ref):
    clean = ref["image"]
    degraded = {k: D.degrade(clean, k, 8) for k in G.KIND_COLUMNS}
    st = G.statistics_table(clean, degraded)
    assert list(st.index) == list(G.KIND_COLUMNS) and math.isinf(st.loc["high", "PSNR vs clean (dB)"])
    assert st.loc["lowres", G.POWER] < st.loc["high", G.POWER]
    assert st.loc["noise", "gradient energy"] > st.loc["high", "gradient energy"]
    assert st.loc["label", "exact zeros (%)"] > st.loc["high", "exact zeros (%)"]
    assert "exact zeros" in G.statistics_text(st)


def test_radial_power_spectrum():
    f, p = G.radial_power_spectrum(torch.ones(2, 1, 16, 16))
    assert f.shape == p.shape and np.allclose(p, 0)  # a constant image has no power once its mean is removed
    x = torch.sin(2 * math.pi * 0.25 * torch.arange(16.0)).expand(16, 16)  # 0.25 cycles / pixel, horizontally
    f, p = G.radial_power_spectrum(x)
    assert abs(f[np.argmax(p)] - 0.25) < 0.07 and p[f < 0.15].max() < 1e-6 * p.max()


def test_mixed_and_determinism(ref):
    out = G.mixed_and_determinism(ref["image"], seed=9)
    assert sum(out["classes drawn"].values()) == 4
    assert all(v for k, v in out.items() if k != "classes drawn")
