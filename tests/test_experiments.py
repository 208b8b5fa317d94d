"""The experiments on a tiny profile (32 px, 24 images, one epoch): the artifacts rule (a second call
trains nothing and gives the same numbers, a changed profile or phantom retrains), the plain BoNet+
trained alone as fold 0 of Table 2, Tables 4-5's results, and ``load_pipeline``."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import baa.experiments.tables as T
from baa import phantom
from baa.errors import InputError
from baa.experiments.artifacts import artifact_dir, data_version, finished_checkpoint
from baa.experiments.datasets import dataset
from baa.metrics import mae
from baa.profiles import PROFILES, Profile
from baa.train import TrainConfig, fit_classifier, fit_regressor, fit_restorer, predict

TINY = Profile(name="tiny", image_size=32, width=0.125, n_images=24, n_test=8, folds=2, cv_folds_run=1,
               epochs_regressor=1, epochs_classifier=1, epochs_resunet=1, resunet_depth=2, classifier_width=0.125,
               classifier_hidden=16, n_bench=4)
FITS = {"fit_regressor": fit_regressor, "fit_restorer": fit_restorer, "fit_classifier": fit_classifier}


def _count_fits(monkeypatch) -> list[str]:
    """The fit_* the experiments call, recorded (and run)."""
    calls = []
    for name, fn in FITS.items():
        monkeypatch.setattr(T, name, lambda *a, _fn=fn, _name=name, **kw: calls.append(_name) or _fn(*a, **kw))
    return calls


def _models(p: Profile) -> list[str]:
    return sorted(f.stem for f in (artifact_dir(p) / "models").glob("*.pt"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every experiment of the tiny profile, run once in its own artifacts folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BAA_ARTIFACTS", str(tmp_path_factory.mktemp("artifacts")))
        loss = T.loss_comparison(TINY, progress=False)
        results = T.assessment(TINY, progress=False)
        yield {"loss": loss, "assessment": results, "root": artifact_dir(TINY).parent}


@pytest.fixture
def artifacts(trained, monkeypatch):
    monkeypatch.setenv("BAA_ARTIFACTS", str(trained["root"]))
    return trained


# A network just trained holds channels_last weights, one loaded from its checkpoint contiguous ones:
# their outputs differ in the last float bits (~1e-5 y), so a first call's numbers (from the trained
# networks) equal a second call's (from the checkpoints) to that precision; later calls equal the second bitwise.
ROUNDING = 1e-3


def test_a_second_call_trains_nothing_and_gives_the_same_numbers(artifacts, monkeypatch):
    calls = _count_fits(monkeypatch)
    loss = T.loss_comparison(TINY, progress=False)
    assert loss["mae"]["mae_mean"] == pytest.approx(artifacts["loss"]["mae"]["mae_mean"], abs=ROUNDING)
    again = T.assessment(TINY, progress=False)
    for name, by_quality in again["mae"].items():
        assert by_quality == pytest.approx(artifacts["assessment"]["mae"][name], abs=ROUNDING)
    assert T.loss_comparison(TINY, progress=False)["mse"] == loss["mse"]
    assert calls == []
    assert _models(TINY) == ["bonet_beyond", "bonet_mae_fold0", "bonet_mse_fold0", "bonet_nq", "bonet_nq_beyond", "classifier",
                             "classifier_multilabel", "resunet_dq", "resunet_label", "resunet_lowres", "resunet_noise"]
    assert {"table2.json", "assessment.json"} <= {f.name for f in (artifact_dir(TINY) / "results").iterdir()}


def test_assessment_covers_every_pipeline_and_quality(artifacts):
    r = artifacts["assessment"]
    assert set(r["mae"]) == {"plain", "cq", "dq", "nq", "plain_beyond", "cq_beyond", "dq_beyond", "nq_beyond", "cq_multilabel"}
    assert set(r["mae"]["dq"]) == {"high", "noise", "label", "lowres", "all"} and set(r["mae"]["cq_multilabel"]) == {"all"}
    assert sum(map(sum, r["confusion"])) == 4 * TINY.n_test and len(r["true"]) == TINY.n_test
    assert r["mae"]["plain"]["high"] == pytest.approx(mae(torch.tensor(r["pred"]["plain"]["high"]), torch.tensor(r["true"])))


def test_plain_regressor_trains_alone_as_fold_0_of_table_2(artifacts, tmp_path, monkeypatch):
    """Asking for the plain BoNet+ trains that one network, the same weights Table 2's fold 0 has."""
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    calls = _count_fits(monkeypatch)
    plain = T.plain_regressor(TINY, progress=False)
    assert calls == ["fit_regressor"] and _models(TINY) == ["bonet_mae_fold0"]
    reference = torch.load(artifacts["root"] / "tiny" / "models" / "bonet_mae_fold0.pt", weights_only=False)["model"]
    assert all(torch.equal(v, reference[k]) for k, v in plain.state_dict().items())
    # Table 2 then reuses it as its fold 0, and its numbers are those of a run that trained it itself
    loss = T.loss_comparison(TINY, progress=False)
    assert calls.count("fit_regressor") == 3  # L_MSE's fold 0 and the beyond-the-paper row only
    assert loss["mae"]["folds"][0]["pred"] == pytest.approx(artifacts["loss"]["mae"]["folds"][0]["pred"], abs=ROUNDING)
    assert loss["mse"]["folds"][0]["pred"] == artifacts["loss"]["mse"]["folds"][0]["pred"]  # trained here, as there


def test_the_paper_and_beyond_recipes_are_separate_networks(artifacts):
    """Table 2's models and the plain and NQ BoNet+ are trained as the paper trains; the _beyond
    pipelines use the same restorers and classifier with BoNet+ of our recipe, and a checkpoint of
    the other recipe is never taken for this one."""
    d = artifact_dir(TINY) / "models"
    recipe = {n: torch.load(d / f"{n}.pt", weights_only=False)["extra"]["recipe"]
              for n in ("bonet_mae_fold0", "bonet_mse_fold0", "bonet_nq", "bonet_beyond", "bonet_nq_beyond")}
    assert recipe == {"bonet_mae_fold0": "paper", "bonet_mse_fold0": "paper", "bonet_nq": "paper",
                      "bonet_beyond": "beyond", "bonet_nq_beyond": "beyond"}
    assert torch.load(d / "bonet_mae_fold0.pt", weights_only=False)["config"]["bn_recalibration"] == 0
    pipes = T.build_pipelines(TINY, progress=False)
    assert pipes["dq_beyond"].restorer is pipes["dq"].restorer and pipes["dq_beyond"].regressor is not pipes["dq"].regressor
    assert pipes["cq_beyond"].classifier is pipes["cq"].classifier
    assert finished_checkpoint(d / "bonet_beyond.pt", TINY, {"recipe": "beyond"}) is not None
    loss = artifacts["loss"]
    assert loss["mae_beyond"]["n_folds"] == 1 and loss["mae_beyond"]["folds"][0]["true"] == loss["mae"]["folds"][0]["true"]


def test_a_checkpoint_of_the_other_recipe_is_stale(artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    T.plain_regressor(TINY, progress=False)
    path = artifact_dir(TINY) / "models" / f"{T.PLAIN}.pt"
    assert finished_checkpoint(path, TINY, {"recipe": "beyond"}) is None and not path.exists()


def test_a_changed_profile_retrains(artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    T.plain_regressor(TINY, progress=False)
    calls = _count_fits(monkeypatch)
    T.plain_regressor(TINY, progress=False)
    assert calls == []
    longer = dataclasses.replace(TINY, epochs_regressor=2)  # same name, so the same folder
    path = artifact_dir(TINY) / "models" / f"{T.PLAIN}.pt"
    assert finished_checkpoint(path, longer) is None and not path.exists()  # stale: deleted
    T.plain_regressor(longer, progress=False)
    assert calls == ["fit_regressor"] and torch.load(path, weights_only=False)["epoch"] == 2


def test_data_version_follows_the_phantom_code_and_size(monkeypatch):
    v = data_version(TINY)
    assert v == data_version(dataclasses.replace(TINY, epochs_regressor=9))  # training settings: same data
    assert v != data_version(dataclasses.replace(TINY, image_size=48))
    monkeypatch.setattr(phantom, "code_version", lambda: "edited")
    assert data_version(TINY) != v


def test_a_checkpoint_of_another_phantom_is_stale(artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    T.plain_regressor(TINY, progress=False)
    path = artifact_dir(TINY) / "models" / f"{T.PLAIN}.pt"
    assert finished_checkpoint(path, TINY) is not None
    monkeypatch.setattr(phantom, "code_version", lambda: "edited")
    assert finished_checkpoint(path, TINY) is None and not path.exists()


def test_datasets_are_cached_and_disjoint(artifacts):
    train, test = dataset(TINY, "train", progress=False), dataset(TINY, "test", progress=False)
    assert len(train) == TINY.n_images and train.images.shape[-1] == TINY.image_size
    assert not set(train.ids) & set(test.ids)
    assert torch.equal(dataset(TINY, "train", progress=False).images, train.images)


def test_load_pipeline_gives_the_trained_pipelines(artifacts):
    pipes = T.build_pipelines(TINY, progress=False)
    x = dataset(TINY, "test", progress=False).images
    for name in ("plain", "nq", "dq", "cq", "plain_beyond", "nq_beyond", "dq_beyond", "cq_beyond"):
        loaded = T.load_pipeline(name, TINY)
        a, b = T.run_pipeline(loaded, x), T.run_pipeline(pipes[name], x)
        assert torch.equal(a[0], b[0]), name
    folder = artifact_dir(TINY) / "models"
    assert torch.equal(T.run_pipeline(T.load_pipeline("dq", folder), x)[0], T.run_pipeline(pipes["dq"], x)[0])
    # one BoNet+ file is its plain pipeline; any other network is refused
    one = T.load_pipeline("dq", folder / "bonet_nq.pt")
    assert torch.equal(predict(one, x), T.run_pipeline(pipes["nq"], x)[0])
    with pytest.raises(InputError, match="not a BoNet"):
        T.load_pipeline("plain", folder / "resunet_dq.pt")
    assert T.trained_size(TINY) == T.trained_size(folder / "classifier.pt") == TINY.image_size


def test_load_pipeline_trains_nothing_and_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make book"):
        T.load_pipeline("cq", TINY)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        T.load_pipeline("dq", tmp_path / "nowhere")
    assert not (tmp_path / "tiny").exists() and T.trained_size(tmp_path) is None


def test_profiles_train_in_bf16_only_where_the_cpu_has_it(monkeypatch):
    """``Profile.train_bf16`` turns on ``amp_cpu`` only where bf16 is native: elsewhere it is
    emulated, slower than fp32, and the profile trains in fp32."""
    for native in (True, False):
        monkeypatch.setattr(T, "bf16_supported", lambda *a, native=native: native)
        assert T.train_config(PROFILES["cpu"], "regressor").amp_cpu is native
        assert T.train_config(PROFILES["smoke"], "regressor").amp_cpu is False
    cfg = T.train_config(PROFILES["paper"], "restorer", seed=3)
    assert isinstance(cfg, TrainConfig) and (cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed, cfg.schedule) == (75, 8, 2e-4, 3, "constant")


def test_paper_dry_is_the_paper_s_networks_on_a_handful_of_images():
    """``paper-dry`` keeps every size of the paper profile and caps the schedules (issue: a CPU dry run
    of the whole book before a GPU run); it and smoke are trials, whose numbers mean nothing."""
    from baa.profiles import PROFILES, is_trial

    paper, dry = PROFILES["paper"], PROFILES["paper-dry"]
    for f in ("image_size", "width", "resunet_depth", "classifier_width", "classifier_hidden", "folds",
              "batch_regressor", "batch_classifier", "batch_resunet"):
        assert getattr(dry, f) == getattr(paper, f), f
    assert dry.n_images <= 16 and dry.n_test <= 8 and dry.n_bench <= 4 and dry.cv_folds_run == 1
    assert max(dry.epochs_regressor, dry.epochs_classifier, dry.epochs_resunet) == 1
    assert [n for n in PROFILES if is_trial(n)] == ["smoke", "paper-dry"] and not is_trial("nonsense")


def test_the_cost_plan_names_every_network_the_experiments_train(artifacts):
    """``analysis.cost``'s plan is the experiments' own list: the same checkpoints, and the rates it
    reads back come from their histories."""
    from baa.analysis.cost import achieved_rates, training_flops, training_plan

    assert [t.name for t in training_plan(TINY)] == _models(TINY)
    f = training_flops(TINY)
    assert f["total_pflop"] == pytest.approx(sum(r["pflop"] for r in f["networks"])) and f["total_pflop"] > 0
    bonet = next(r for r in f["networks"] if r["name"] == "bonet_nq")
    assert bonet["images"] == TINY.n_images - TINY.n_images // TINY.folds and bonet["epochs"] == TINY.epochs_regressor
    rates = achieved_rates(TINY)
    assert set(rates) == set(_models(TINY)) and all(r["seconds"] > 0 and r["tflops_per_s"] > 0 for r in rates.values())


def test_dq_on_the_experts_budget_reuses_the_book_and_is_judged_on_its_test_images(artifacts, tmp_path, monkeypatch):
    """``experiments.dq_budget``: one new ResUNet (DQ's kinds, 3x the epochs), every other network and the
    test images the book's; its results decide the claims a second time (chapter 10)."""
    import shutil

    from baa.analysis.claims import claims_by_dq_budget
    from baa.experiments import dq_budget

    shutil.copytree(artifacts["root"], tmp_path / "a")
    monkeypatch.setenv("BAA_ARTIFACTS", str(tmp_path / "a"))
    calls, fit = _count_fits(monkeypatch), dq_budget.fit_restorer
    monkeypatch.setattr(dq_budget, "fit_restorer", lambda *a, **kw: calls.append("budget") or fit(*a, **kw))
    res = dq_budget.run(TINY, factor=3, progress=False)
    assert calls == ["budget"]  # the budget DQ only
    ckpt = torch.load(artifact_dir(TINY) / "models" / "resunet_dq_x3.pt", weights_only=False)
    assert ckpt["config"]["epochs"] == 3 * TINY.epochs_resunet and ckpt["extra"]["kinds"] == list(T.DQ_KINDS)
    assert res["epochs"] == 3 * TINY.epochs_resunet and set(res["mae"]) == {"high", "noise", "label", "lowres", "all"}
    assert dq_budget.load(TINY)["pred"] == res["pred"] and len(res["pred"]["lowres"]) == TINY.n_test
    again = dq_budget.run(TINY, factor=3, progress=False)  # trains nothing the second time
    assert calls == ["budget"] and again["mae"] == pytest.approx(res["mae"], abs=ROUNDING)
    df = claims_by_dq_budget(artifacts["assessment"], res, n_boot=100)
    assert len(df) == 6 and "changes with DQ's budget" in df.columns
    from baa.analysis.report import dq_budget_table
    from baa.analysis.verdicts import dq_budget_text

    t = dq_budget_table(artifacts["assessment"], res)
    assert t.loc["low-res", "MAE BoNet+_DQ, 3x epochs"] == res["mae"]["lowres"]
    assert t.loc["low-res", "MAE BoNet+_DQ"] == artifacts["assessment"]["mae"]["dq"]["lowres"]
    assert f"{res['mae']['lowres']:.3f}" in dq_budget_text(artifacts["assessment"], res, df)
