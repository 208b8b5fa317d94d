"""baa.book.figures: every chapter figure draws from small inputs (Agg backend, nothing shown)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from baa import degrade as D  # noqa: E402
from baa.analysis import degradation as G, maturity as M  # noqa: E402
from baa.analysis.report import history_frame, parameter_counts  # noqa: E402
from baa.book import figures as F  # noqa: E402
from baa.data import BoneAgeData  # noqa: E402
from baa.models import BoNetPlus, CQPipeline, DQPipeline, PlainPipeline, QualityClassifier, ResUNet  # noqa: E402
from baa.paper import KINDS, QUALITIES  # noqa: E402
from baa.phantom import sample_subjects  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


@pytest.fixture(scope="module")
def ref():
    return G.reference_set(seed=0, n=3, size=32)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    reg = BoNetPlus(width=0.0625).eval()
    experts = {k: ResUNet(width=0.0625, depth=2).eval() for k in KINDS}
    dq = ResUNet(width=0.0625, depth=2).eval()
    cls = QualityClassifier(width=0.0625, hidden=8).eval()
    return {"plain": PlainPipeline(reg).eval(), "cq": CQPipeline(cls, experts, reg).eval(), "dq": DQPipeline(dq, reg).eval(),
            "nq": PlainPipeline(reg).eval(), "resunet": dq}


def test_chapter_1_figures(monkeypatch):
    monkeypatch.setattr(F, "STANDARD", F.PhantomConfig(size=32, pose_variation=False, site_variation=False,
                                                       collimation=False, marker=False))
    assert len(_axes(F.phantom_ages(seed=0, ages=(2.0, 10.0)))) == 4
    assert len(F.maturity_curves(M.population(60, seed=1)).axes) == 3
    assert len(F.maturity_schedule().axes) == 2
    assert len(F.mask_panels(seed=0, ages=(2.0, 8.0)).axes) == 4
    assert len(F.readings(sample_subjects(50, seed=2)).axes) == 4  # three panels and a colour bar
    floor = {"by_age": {"0-5": 0.3, "5-10": 0.4}, "label_noise": 0.25, "n_test": 10}
    assert len(F.stage_floor(floor, 0).axes) == 1
    data = BoneAgeData(torch.rand(6, 1, 16, 16), torch.linspace(1, 18, 6), torch.tensor([0.0, 1.0] * 3),
                       [str(i + 1) for i in range(6)], "phantom")
    assert len(F.age_histogram(data, "smoke").axes) == 1
    assert len(F.fold_boxes(data.age.numpy(), [np.array([0, 2, 4]), np.array([1, 3, 5])], "smoke").axes) == 1
    assert len(_axes(F.round_trip({"data": data}, n=3))) == 3
    monkeypatch.setattr(F, "SHOW", 32)
    assert len(_axes(F.augmentations(seed=5, image_seed=4))) == 6
    assert len(_axes(F.site_variation(seed=4, n=2))) == 2
    assert F.real_beside_phantom(seed=3, folder="/nonexistent") is None


def test_chapter_2_figures(ref):
    clean, masks = ref["image"], ref["masks"]
    assert len(_axes(F.fig1(clean[:2], seed=1))) == 2 * len(G.KIND_COLUMNS)
    table, noisy = G.noise_table(clean, seed=2, levels=(30.0, 100.0))
    assert len(F.noise_levels(clean, noisy, table).axes) == 3
    assert len(F.poisson_check(G.poisson_check(seed=3, rows=200, cols=12)).axes) == 3
    region, cover = G.label_region(32, 50, 5), G.label_cover(clean, masks, 6)
    assert len(F.label_region(region, cover, masks).axes) == 4  # three panels and a colour bar
    assert len(F.histograms_spectra({k: D.degrade(clean, k, 8) for k in ("high", "noise")}).axes) == 2


def test_chapter_3_figures():
    counts = parameter_counts(BoNetPlus(width=0.0625))
    assert len(F.parameter_bars(counts["parts"], counts["total"]).axes) == 1
    fold = {"fold": 0, "pred": [1.0, 2.5, 2.0], "true": [1.5, 2.0, 2.0],
            "history": [{"epoch": 1, "loss": 1.0, "val_mae": 0.9}, {"epoch": 2, "loss": 0.5, "val_mae": 0.8}]}
    loss = {"mae": {"folds": [fold]}, "mse": {"folds": [fold]}}
    assert len(F.training_curves(history_frame(loss), "t").axes) == 2
    assert len(F.fig11(loss, "t").axes) == 2


def test_chapter_4_and_5_figures(ref, nets):
    clean = ref["image"]
    degraded = {q: D.degrade(clean, q, 1) for q in QUALITIES}
    assert len(F.fig9(nets["resunet"], clean, degraded, 0, "t").axes) == 16
    assert len(F.confusion(np.eye(4, dtype=int) * 5).axes) == 1
    assert len(F.fig14(nets["cq"], nets["resunet"], degraded, 1, "t").axes) == 12
    results = {"n_test": 4, "ccs_thresholds": [0.0, 1.0, 2.0],
               "ccs": {"plain": {q: [1, 2, 4] for q in QUALITIES}, "dq": {"all": [0, 3, 4]}}}
    assert len(F.fig12(results, "t").axes) == len(QUALITIES) + 1


def test_chapter_7_figures(ref, nets):
    pipes = {"plain": nets["plain"]}
    images, grow = ref["image"], ref["masks"]["carpals"] | ref["masks"]["epiphyses"]
    labels = torch.tensor([3.0, 10.0, 15.0])
    assert len(F.saliency_examples(nets["plain"], nets["nq"].regressor, images, grow, labels, "db2", "t").axes) == 15
    table = pd.DataFrame([{"method": m, "pipeline": p, "quality": q, "enrichment": 1.2, "enrichment_sd": 0.1}
                          for m in ("gradcam", "gradient") for p in ("BoNet+", "random BoNet+") for q in QUALITIES])
    assert len(F.enrichment_bars(table, "db2", "t").axes) == 2
    fig = F.saliency_by_quality(pipes, images, grow, 1, lambda x, kind: D.degrade(x, kind, 1), "gradient", "db2", "t")
    assert len(fig.axes) == len(QUALITIES) * len(pipes)


def test_chapter_8_figures():
    img = np.random.rand(1, 16, 16)
    examples = {k: {"clean": img, "degraded": img * 0.5, "resunet": img} for k in ("noise", "label")}
    assert len(_axes(F.restoration_examples(examples, "t"))) == 6
    rest = {k: {"clean": {"mae_years": 0.5}, "degraded": {"mae_years": 1.0}, "resunet": {"mae_years": 0.6}} for k in KINDS}
    assert len(F.mae_after_restoration(rest, "t").axes) == 3
    inf = pd.DataFrame({"256 ms": [90.0, 60.0], "cpu_profile ms": [9.0, np.nan]}, index=["no_grad", "channels_last"])
    inf["256 speed-up"], inf["cpu_profile speed-up"] = 90.0 / inf["256 ms"], 9.0 / inf["cpu_profile ms"]
    assert len(F.inference_speed(inf, "a CPU", 96).axes) == 2
    tr = pd.DataFrame({"NCHW images/s": [10.0, 1.0], "channels_last images/s": [12.0, 1.5]}, index=["BoNet+", "ResUNet"])
    tr["speed-up"] = tr["channels_last images/s"] / tr["NCHW images/s"]
    assert len(F.training_speed(tr, "a CPU").axes) == 1


def test_no_figure_function_shows():
    """Figures are returned for the chapter to show; a function that called plt.show would draw twice."""
    import inspect

    code = inspect.getsource(F).split('"""', 2)[2]  # after the module docstring
    assert "plt.show" not in code
