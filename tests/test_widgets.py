"""The interactive chapter's logic (chapter 6), without a browser: explicit labels, assess_view, the app."""

import pytest
import torch
import torch.nn as nn

from baa import degrade as D
from baa.paper import KINDS, QUALITIES
from baa.models import CQPipeline, DQPipeline, PlainPipeline, QualityClassifier, ResUNet
from baa.book.widgets import assess_view, degrade_view, label_at, label_box, png_bytes

S = 40


class ToyAge(nn.Module):
    """A regressor that visibly reacts to noise (an untrained BoNet+ answers its bias, 9.5 y)."""

    def __init__(self, base: float):
        super().__init__()
        self.base = nn.Parameter(torch.tensor(base))

    def forward(self, x, male=None):
        return self.base + 20 * x.flatten(1).std(1)


@pytest.fixture(scope="module")
def pipelines():
    torch.manual_seed(0)
    reg, nq = ToyAge(5.0), ToyAge(6.0)
    res = {k: ResUNet(width=0.125, depth=2).eval() for k in KINDS}
    dq = ResUNet(width=0.125, depth=2).eval()
    for r in list(res.values()) + [dq]:
        nn.init.normal_(r.residual.weight, std=0.05)  # not the identity: a visible residual
    cls = QualityClassifier(width=0.0625, hidden=8).eval()
    return {"plain": PlainPipeline(reg).eval(), "cq": CQPipeline(cls, res, reg).eval(),
            "dq": DQPipeline(dq, reg).eval(), "nq": PlainPipeline(nq).eval()}


@pytest.fixture(scope="module")
def image():
    g = torch.Generator().manual_seed(1)
    return (torch.rand(1, 1, S, S, generator=g) * 0.6 + 0.2)


@pytest.mark.parametrize("size", [0.05, 0.2, 0.6, 0.9])
@pytest.mark.parametrize("pos", [(0, 0), (1, 1), (0, 1), (0.5, 0.5), (-1, 2)])
def test_label_box_stays_in_the_central_60_percent(size, pos):
    H = W = 100
    top, left, bottom, right = label_box(H, W, size, pos)[0].tolist()
    assert 20 <= top < bottom <= 80 and 20 <= left < right <= 80
    assert bottom - top == min(round(size * H), 60)


def test_label_box_corners_by_hand():
    assert label_box(100, 100, 0.2, (0, 0))[0].tolist() == [20, 20, 40, 40]
    assert label_box(100, 100, 0.2, (1, 1))[0].tolist() == [60, 60, 80, 80]
    assert label_box(100, 100, 0.2, (0, 1))[0].tolist() == [20, 60, 40, 80]


def test_label_at_blacks_out_exactly_the_box():
    x = torch.full((2, 1, 50, 50), 0.7)
    out, mask = label_at(x, 0.2, (0.5, 0.5), return_mask=True)
    assert int(mask.sum()) == 2 * 10 * 10
    assert (out[mask] == 0).all() and (out[~mask] == 0.7).all()


def test_degrade_view_kinds(image):
    assert torch.equal(degrade_view(image, "none"), image)
    assert torch.equal(degrade_view(image, "lowres", factor=4), D.low_resolution(image, 4))
    assert torch.equal(degrade_view(image, "lowres", factor=1), image)
    a = degrade_view(image, "noise", photons=50, seed=3)
    assert torch.equal(a, degrade_view(image, "noise", photons=50, seed=3))
    assert not torch.equal(a, degrade_view(image, "noise", photons=50, seed=4))
    # more photons, less noise
    err = lambda p: float((degrade_view(image, "noise", photons=p) - image).abs().mean())  # noqa: E731
    assert err(10_000) < err(30)
    lab = degrade_view(image, "label", label_size=0.25, label_pos=(0.2, 0.8))
    assert int((lab == 0).sum()) == 10 * 10
    allk = degrade_view(image, "all", photons=100, label_size=0.25, label_pos=(0.2, 0.8), factor=2, seed=0)
    assert torch.equal(allk, label_at(D.poisson_noise(D.low_resolution(image, 2), 100.0, 0), 0.25, (0.2, 0.8)))
    with pytest.raises(ValueError):
        degrade_view(image, "blur")


def test_assess_view(image, pipelines):
    v = assess_view(image, "all", 100, 0.2, (0.5, 0.5), 4, pipelines)
    assert v["degraded"].shape == v["clean"].shape == (S, S)
    assert set(v["ages"]) == {"plain", "cq", "dq", "nq"}
    assert set(v["restored"]) == set(v["residual"]) == {"cq", "dq"}
    assert set(v["probs"]) == set(QUALITIES)
    assert sum(v["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    assert v["quality"] == max(v["probs"], key=v["probs"].get)
    torch.testing.assert_close(v["residual"]["dq"], v["restored"]["dq"] - v["degraded"])
    x = v["degraded"].view(1, 1, S, S)
    with torch.inference_mode():
        assert v["ages"]["plain"] == pytest.approx(float(pipelines["plain"](x)[0]), abs=1e-5)
        assert v["ages"]["dq"] == pytest.approx(float(pipelines["dq"](x)[0]), abs=1e-5)
        assert v["ages"]["cq"] == pytest.approx(float(pipelines["cq"](x)[0][0]), abs=1e-5)
    # the same settings give the same numbers; a subset of pipelines is fine
    assert assess_view(image, "all", 100, 0.2, (0.5, 0.5), 4, pipelines)["ages"] == v["ages"]
    only = assess_view(image, "none", 100, 0.2, (0.5, 0.5), 4, {"plain": pipelines["plain"]})
    assert set(only["ages"]) == {"plain"} and only["probs"] == {} and only["restored"] == {}
    assert torch.equal(only["degraded"], image[0, 0])


def test_png_bytes():
    b = png_bytes(torch.rand(8, 8), scale=3)
    assert b[:8] == b"\x89PNG\r\n\x1a\n"
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(b)).size == (24, 24)
    assert Image.open(BytesIO(png_bytes(torch.rand(8, 8) - 0.5, -0.5, 0.5, "RdBu_r"))).mode == "RGB"


def test_app_updates_without_a_browser(image, pipelines):
    pytest.importorskip("ipywidgets")
    from baa.book.widgets import build_app

    app = build_app(image, 9.0, pipelines, kind="all", photons=1000)
    for key, cls in [("photons", "baa-photons"), ("label_size", "baa-label-size"), ("kind", "baa-kind"),
                     ("factor", "baa-factor")]:
        assert cls in app.controls[key]._dom_classes
        assert app.controls[key].description
    assert "baa-age-readout" in app.readout._dom_classes
    assert all("baa-image" in im._dom_classes for im in app.images.values())
    assert all(im.value[:4] == b"\x89PNG" for im in app.images.values())
    before, ages = app.readout.value, dict(app.view["ages"])
    assert "true 9.00 y" in before
    app.controls["photons"].value = 10.0
    assert app.view["settings"]["photons"] == pytest.approx(10.0)
    assert app.view["ages"] != ages and app.readout.value != before
    app.controls["kind"].value = "lowres"
    assert app.controls["photons"].disabled and not app.controls["factor"].disabled
    assert app.view["settings"]["kind"] == "lowres"


def test_defaults_gallery_and_sweeps(image, pipelines):
    from baa.book.widgets import GALLERY, SWEEPS, default_settings, plot_sweeps, sweep_summary, sweeps

    d = default_settings()
    assert d["photons"] == D.PHOTONS and d["factor"] == D.LOWRES_FACTOR and D.LABEL_FRACTION[0] < d["label_size"] < D.LABEL_FRACTION[1]
    views = [assess_view(image, **{**d, **s}, pipelines=pipelines) for s in GALLERY]
    assert all(v["degraded"].shape == image.shape[-2:] for v in views)
    assert all(abs(sum(v["probs"].values()) - 1) < 1e-4 for v in views)
    small = {name: (kind, key, values[:2]) for name, (kind, key, values) in SWEEPS.items()}
    sw = sweeps(image, pipelines, d, small)
    assert list(sw) == list(SWEEPS) and all(len(xs) == len(vs) == 2 for xs, vs in sw.values())
    assert sw["downscale"][1][1]["settings"]["factor"] == SWEEPS["downscale"][2][1]
    text = sweep_summary(sw["photons"], 9.0, "smoke")
    assert text.startswith(f"Over the photon sweep ({SWEEPS['photons'][2][0]:.3g} to") and "profile smoke" in text
    fig = plot_sweeps(sw, 9.0, "t")
    assert len(fig.axes) == 2 * len(SWEEPS)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_photon_demo_drives_the_app(image, pipelines):
    pytest.importorskip("ipywidgets")
    from baa.book.widgets import build_app, photon_demo, photon_demo_text

    app = build_app(image, 9.0, pipelines, kind="all")
    demo = photon_demo(app)
    assert set(demo["high"]) == set(demo["low"]) == {"plain", "cq", "dq", "nq"} and demo["high"] != demo["low"]
    assert app.view["settings"]["kind"] == "all" and app.view["settings"]["photons"] == D.PHOTONS
    text = photon_demo_text(demo, spread=0.01, profile="smoke")
    assert text.count("\n") == 4 and "barely trained" in text  # four pipelines and the note
    assert "barely trained" not in photon_demo_text(demo, spread=1.0, profile="smoke")
    app.controls["photons"].value = 30.0
    with pytest.raises(AssertionError):  # a frozen app: nothing follows the slider
        app.update = lambda *a: None
        for w in app.controls.values():
            w.unobserve_all()
        photon_demo(app)
