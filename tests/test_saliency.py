"""Saliency (chapter 7): Grad-CAM and input gradients find what a model depends on; mask shares."""

import math

import pytest
import torch
import torch.nn as nn

from baa.models import BoNetPlus, CQPipeline, DQPipeline, PlainPipeline, QualityClassifier, ResUNet
from baa.analysis.saliency import (cam_layer, occlusion_bands, enrichment, grad_cam, input_gradients, mask_share, pipeline_fn, saliency_maps,
                          saliency_table)
from baa.experiments.datasets import dataset
from baa.profiles import PROFILES

SMOKE = PROFILES["smoke"]

S = 32
QUADRANTS = {"tl": (slice(0, S // 2), slice(0, S // 2)), "tr": (slice(0, S // 2), slice(S // 2, S)),
             "bl": (slice(S // 2, S), slice(0, S // 2)), "br": (slice(S // 2, S), slice(S // 2, S))}


def quadrant_mask(q: str) -> torch.Tensor:
    m = torch.zeros(1, 1, S, S, dtype=torch.bool)
    m[..., QUADRANTS[q][0], QUADRANTS[q][1]] = True
    return m


class QuadrantModel(nn.Module):
    """An age that depends only on the pixels of one quadrant: the input is masked first, then
    convolved (``features``, the Grad-CAM layer), pooled and read out."""

    def __init__(self, q: str):
        super().__init__()
        self.register_buffer("mask", quadrant_mask(q).float())
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1, bias=False), nn.ReLU())
        self.head = nn.Linear(6, 1)
        with torch.no_grad():
            self.features[0].weight.abs_()  # positive features ...
            self.head.weight.fill_(1.0)  # ... pushing the output up: Grad-CAM's ReLU keeps them

    def forward(self, x):
        return self.head(self.features(x * self.mask).mean((2, 3))).flatten()


@pytest.mark.parametrize("q", list(QUADRANTS))
def test_grad_cam_concentrates_on_the_quadrant_the_output_depends_on(q):
    torch.manual_seed(0)
    model = QuadrantModel(q).eval()
    x = torch.rand(3, 1, S, S)
    cam = grad_cam(model, x, "features")
    assert cam.shape == (3, 1, S, S)
    assert float(cam.min()) >= 0.0 and torch.allclose(cam.flatten(1).amax(1), torch.ones(3))
    assert (mask_share(cam, quadrant_mask(q)) > 0.9).all()
    # the parameters' gradients are left alone
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("q", list(QUADRANTS))
def test_input_gradients_vanish_outside_the_quadrant(q):
    torch.manual_seed(0)
    model = QuadrantModel(q).eval()
    g = input_gradients(model, torch.rand(2, 1, S, S))
    assert g.shape == (2, 1, S, S)
    assert float(g[~quadrant_mask(q).expand_as(g)].abs().max()) == 0.0
    assert torch.allclose(mask_share(g, quadrant_mask(q)), torch.ones(2))
    smooth = input_gradients(model, torch.rand(2, 1, S, S), n_samples=3, noise=0.1)
    assert torch.allclose(mask_share(smooth, quadrant_mask(q)), torch.ones(2))


def test_mask_share_by_hand():
    s = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    diag = torch.tensor([[True, False], [False, True]]).view(1, 1, 2, 2)
    corner = torch.tensor([[False, False], [False, True]]).view(1, 1, 2, 2)
    assert mask_share(s, diag).item() == pytest.approx(5 / 10)
    assert mask_share(s, corner).item() == pytest.approx(4 / 10)
    e = enrichment(s, corner)
    assert e["area"].item() == pytest.approx(0.25)
    assert e["enrichment"].item() == pytest.approx(0.4 / 0.25)
    assert enrichment(s, diag)["enrichment"].item() == pytest.approx(1.0)
    # batch of two, one all-zero map: NaN, not a division warning
    two = torch.cat([s, torch.zeros_like(s)])
    out = mask_share(two, diag)
    assert out[0].item() == pytest.approx(0.5) and math.isnan(out[1].item())


def test_cam_layer_follows_table1_resolution():
    model = BoNetPlus(width=0.125)
    assert cam_layer(model, 256) == "db5"  # 8 x 8 (Table 1)
    assert cam_layer(model, 128) == "db4"
    assert cam_layer(model, 64) == "db3"
    assert cam_layer(PlainPipeline(model), 64) == "db3"


def _pipelines():
    torch.manual_seed(0)
    reg = BoNetPlus(width=0.125).eval()
    res = {k: ResUNet(width=0.125, depth=2).eval() for k in ("noise", "label", "lowres")}
    for r in res.values():
        nn.init.normal_(r.residual.weight, std=0.1)  # not the identity, so gradients pass through it
    cls = QualityClassifier(width=0.0625, hidden=8).eval()
    return {"plain": PlainPipeline(reg).eval(), "dq": DQPipeline(ResUNet(width=0.125, depth=2), reg).eval(),
            "cq": CQPipeline(cls, res, reg).eval()}


def test_pipeline_saliency_through_restorers():
    pipes = _pipelines()
    x = torch.rand(2, 1, S, S) * 0.8 + 0.1
    for name, pipe in pipes.items():
        for method in ("gradcam", "gradient"):
            m = saliency_maps(pipe, x, method)
            assert m.shape == (2, 1, S, S), (name, method)
            assert float(m.min()) >= 0 and float(m.max()) <= 1
        assert float(input_gradients(pipeline_fn(pipe), x).sum()) > 0, name
    m = saliency_maps(pipes["dq"], x, "smoothgrad", n_samples=2)
    assert m.shape == (2, 1, S, S) and float(m.max()) == 1.0
    # CQ: the gradient is that of the chosen restorer followed by BoNet+
    cq = pipes["cq"]
    cls = cq.classify(x).argmax(1)
    kind = cq.classifier.classes[int(cls[0])]
    chain = (lambda z: cq.regressor(z)) if kind == "high" else (lambda z: cq.regressor(cq.restorers[kind](z).clamp(0, 1)))
    torch.testing.assert_close(input_gradients(pipeline_fn(cq), x[:1]), input_gradients(chain, x[:1]))


def test_saliency_table_rows():
    pipes = _pipelines()
    x = torch.rand(3, 1, S, S)
    masks = {"carpals": quadrant_mask("tl").expand(3, 1, S, S), "epiphyses": quadrant_mask("br").expand(3, 1, S, S),
             "bones": torch.ones(3, 1, S, S, dtype=torch.bool), "hand": torch.ones(3, 1, S, S, dtype=torch.bool)}
    df = saliency_table(pipes, x, masks, kinds=("high", "noise"), methods=("gradcam", "gradient"),
                        degrade_fn=lambda im, k: im if k == "high" else (im + 0.05).clamp(0, 1),
                        control=BoNetPlus(width=0.125).eval(), progress=False)
    assert len(df) == 2 * 4 * 2
    assert set(df["pipeline"]) == {"plain", "dq", "cq", "random BoNet+"}
    assert df["growth_area"].round(6).eq(0.5).all()
    ok = df["n_empty"] == 0
    assert df.loc[ok, "bones_share"].round(6).eq(1.0).all()
    assert ((df.loc[ok, "growth_share"] >= 0) & (df.loc[ok, "growth_share"] <= 1)).all()
    assert ((df.loc[ok, "enrichment"] - df.loc[ok, "growth_share"] / 0.5).abs() < 1e-6).all()
    assert (df.loc[df["method"] == "gradient", "n_empty"] == 0).all()


def test_phantom_split_has_the_bits_the_experiments_dataset_gives(tmp_path, monkeypatch):
    """The saliency chapter's images are exactly those the networks are trained and tested on."""
    from baa.analysis.saliency import phantom_split

    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    s = phantom_split(SMOKE, "test", n=3, progress=False)
    d = dataset(SMOKE, "test", progress=False)
    assert torch.equal(s["image"], d.images[:3]) and torch.allclose(s["label"], d.age[:3])
    assert set(s["masks"]) >= {"carpals", "epiphyses", "bones", "hand"} and s["masks"]["bones"].shape == s["image"].shape


def test_occlusion_bands_move_the_output_only_where_it_reads():
    """An output that reads rows 16-23 of 32 (band 4 and 5 of 8) moves only when those bands are blanked."""
    x = torch.rand(3, 1, 32, 32) + 0.5
    fn = lambda t: t[:, 0, 16:24].sum((1, 2))
    d = occlusion_bands(fn, x, bands=8)
    assert d.shape == (3, 8)
    assert torch.allclose(d[:, [0, 1, 2, 3, 6, 7]], torch.zeros(3, 6))
    assert torch.allclose(d[:, 4], -x[:, 0, 16:20].sum((1, 2))) and (d[:, 5] < 0).all()



def test_occlusion_bands_of_one_channel_leave_the_others_as_they_are():
    """Blanking band 4 of channel 1 only: an output that reads channel 0 there does not move; one that reads
    channel 1 does, as much as when every channel is blanked."""
    x = torch.rand(2, 2, 32, 32) + 0.5
    read0 = lambda t: t[:, 0, 16:20].sum((1, 2))
    read1 = lambda t: t[:, 1, 16:20].sum((1, 2))
    assert torch.equal(occlusion_bands(read0, x, bands=8, channels=[1]), torch.zeros(2, 8))
    assert torch.allclose(occlusion_bands(read1, x, bands=8, channels=[1]), occlusion_bands(read1, x, bands=8))
    assert (occlusion_bands(read1, x, bands=8, channels=[1])[:, 4] < 0).all()
