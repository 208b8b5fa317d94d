"""Degradations (section 3.1.2) and metrics (eq. 1-6)."""

import numpy as np
import pytest
import torch

from baa import degrade as D
from baa.paper import QUALITIES
from baa import metrics as M
from baa.metrics import ccs, loss_coral, loss_mae, loss_mse, loss_soft_dice, mae, mdae, summary


def test_poisson_variance_grows_with_mean_and_falls_with_photons():
    levels = torch.tensor([0.1, 0.4, 0.7]).view(3, 1, 1, 1).expand(3, 1, 64, 64).contiguous()
    var = lambda photons: D.poisson_noise(levels, photons, generator=0).var(dim=(1, 2, 3))
    v100 = var(100.0)
    assert v100[0] < v100[1] < v100[2]  # brighter = more attenuation = fewer photons = noisier
    v1000 = var(1000.0)
    assert (v1000 < v100 / 5).all()  # ~10x fewer photons -> ~10x the variance
    # the display-domain variance predicted by the physics: Var(p_hat) ~ 1 / (N0 exp(-p)), / scale^2
    k = D.LINE_INTEGRAL_SCALE
    expected = 1 / (1000 * torch.exp(-k * torch.tensor([0.1, 0.4, 0.7]))) / k**2
    assert torch.allclose(v1000, expected, rtol=0.15)


def test_poisson_noise_is_unbiased_on_average():
    x = torch.full((1, 1, 128, 128), 0.5)
    assert abs(float(D.poisson_noise(x, 1000.0, generator=1).mean()) - 0.5) < 0.01


def test_label_inside_central_60_percent():
    x = torch.rand(200, 1, 100, 80) + 0.1
    y, mask = D.black_label(x, generator=3, return_mask=True)
    assert (y[mask] == 0).all() and (y[~mask] == x[~mask]).all()
    rows = mask.any(dim=3).squeeze(1)  # (B, H)
    cols = mask.any(dim=2).squeeze(1)  # (B, W)
    assert rows.any(1).all()  # every image got a label
    r = rows.nonzero()[:, 1]
    c = cols.nonzero()[:, 1]
    assert r.min() >= 20 and r.max() < 80  # central 60 % of 100 rows
    assert c.min() >= 16 and c.max() < 64  # central 60 % of 80 columns
    area = mask.float().mean(dim=(1, 2, 3))
    assert 0.12**2 * 0.9 < area.min() and area.max() < 0.25**2 * 1.1


def test_lowres_keeps_size_and_loses_detail():
    x = torch.rand(2, 1, 64, 64)
    y = D.low_resolution(x)
    assert y.shape == x.shape
    # a 4x area-average of white noise keeps 1/16 of its variance, bicubic adds a little back
    assert y.var() < x.var() / 5


@pytest.mark.parametrize("kind", ["noise", "label", "lowres", "all"])
def test_same_seed_same_bits(kind):
    x = torch.rand(5, 1, 48, 48)
    a, b = D.degrade(x, kind, 42), D.degrade(x, kind, 42)
    assert torch.equal(a, b)
    if kind != "lowres":  # deterministic anyway
        assert not torch.equal(a, D.degrade(x, kind, 43))


def test_degrade_mixed_labels_match_degradations():
    x = torch.rand(64, 1, 32, 32) * 0.8 + 0.1
    y, labels = D.degrade_mixed(x, 0)
    for i in range(64):
        kind = QUALITIES[labels[i]]
        assert torch.equal(y[i] == x[i], torch.ones_like(x[i], dtype=torch.bool)) == (kind == "high")


def test_mae_mdae_ccs_hand_computed():
    pred = [1.0, 2.5, 3.0, 7.0]
    true = [1.5, 2.0, 3.0, 4.0]  # errors 0.5, 0.5, 0, 3
    assert mae(pred, true) == pytest.approx(1.0)
    assert mdae(pred, true) == pytest.approx(0.5)
    t, c = ccs(pred, true, thresholds=[0, 0.4, 0.5, 1, 2.9, 3])
    assert list(c) == [1, 1, 3, 3, 3, 4]
    s = summary(pred, true)
    assert s["n"] == 4 and s["ccs"]["counts"][0] == 1 and s["ccs"]["counts"][-1] == 4


def test_losses_eq5_eq6():
    p, y = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 0.0])
    assert loss_mae(p, y).item() == pytest.approx(2.0)
    assert loss_mse(p, y).item() == pytest.approx(5.0)


def test_paired_bootstrap_ci():
    g = np.random.default_rng(1)
    a = g.gamma(2.0, 0.8, 200)
    mean, lo, hi = M.paired_bootstrap_ci(a + 0.3, a)  # the same images, one method 0.3 y worse on each
    assert mean == pytest.approx(0.3) and lo == pytest.approx(0.3) and hi == pytest.approx(0.3)
    b = a + g.normal(0, 0.5, 200)
    mean, lo, hi = M.paired_bootstrap_ci(b, a)
    assert lo < mean < hi and hi - lo == pytest.approx(2 * 1.96 * 0.5 / np.sqrt(200), rel=0.25)
    assert M.paired_bootstrap_ci(b, a) == (mean, lo, hi)  # seeded
    assert M.paired_bootstrap_ci(a, b)[1] == pytest.approx(-hi)
    with pytest.raises(ValueError):
        M.paired_bootstrap_ci(a, a[:5])


def test_coral_zero_for_same_moments_grows_with_shift_and_ignores_scale():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 8, generator=g)
    assert loss_coral(a, a).item() == pytest.approx(0.0, abs=1e-7)
    shuffled = a[torch.randperm(64, generator=g)]
    assert loss_coral(a, shuffled).item() == pytest.approx(0.0, abs=1e-6)  # the order of the rows is no moment
    shifted = [loss_coral(a, a + d).item() for d in (0.5, 1.0, 2.0)]
    assert shifted[0] < shifted[1] < shifted[2]
    stretched = loss_coral(a, a * 3).item()
    assert stretched > 0.1  # a covariance differs, the means do not
    # shrinking both domains' features together leaves it as it was: the network cannot win by scaling
    b = a * 2 + 1
    assert loss_coral(a * 1e-1, b * 1e-1).item() == pytest.approx(loss_coral(a, b).item(), rel=1e-2)
    x = a.clone().requires_grad_()
    loss_coral(x, b).backward()
    assert x.grad.abs().sum() > 0


def test_soft_dice_weighs_a_small_map_as_much_as_a_large_one():
    """The soft Dice loss: near 0 for confident, right logits, near 1 for a map predicted empty where its
    mask has pixels, and a missed small map costs as much as a missed large one, where the per-pixel
    cross-entropy barely notices it."""
    import torch.nn.functional as F
    masks = torch.zeros(2, 2, 32, 32)
    masks[:, 0, :, :16] = 1  # a large map: half the pixels
    masks[:, 1, 3:5, 3:5] = 1  # a small one: 4 of 1024
    right = 20 * (2 * masks - 1)
    assert loss_soft_dice(right, masks).item() < 0.01
    small_missed = right.clone()
    small_missed[:, 1] = -20
    large_missed = right.clone()
    large_missed[:, 0] = -20
    d_small, d_large = loss_soft_dice(small_missed, masks).item(), loss_soft_dice(large_missed, masks).item()
    assert d_small == pytest.approx(d_large, abs=0.15) and d_small > 0.3
    bce = lambda z: F.binary_cross_entropy_with_logits(z, masks).item()
    assert bce(small_missed) < 0.01 * bce(large_missed)  # why the segmenter needs the Dice beside it
    z = torch.zeros(2, 2, 32, 32, requires_grad=True)
    loss_soft_dice(z, masks).backward()
    assert z.grad[:, 1, 3:5, 3:5].sum() < 0  # raising the small map's logits where its mask is lowers the loss


def test_seed_difference_is_the_difference_of_means_with_welch_error():
    d, se = M.seed_difference([1.0, 2.0, 3.0], [2.0, 4.0])
    assert d == pytest.approx(1.0) and se == pytest.approx(np.sqrt(1.0 / 3 + 2.0 / 2))
    assert M.seed_difference([1.0], [3.0]) == (2.0, 0.0)  # lone seeds: no spread measured
