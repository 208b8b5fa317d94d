"""The paper's experiments, each one function that trains (or reuses) its models and returns the
numbers a chapter shows: Table 2 (``loss_comparison``), the models of Tables 4-5 (``regressors``,
``restorers``, ``classifier``) and Tables 4-5 with Fig. 12 (``assessment``).

Layer: experiments.
"""

from __future__ import annotations

from baa.paper import QUALITIES
from pathlib import Path
import numpy as np
import torch
from baa import degrade as D
from baa.data import kfold_splits
from baa.metrics import ccs, mae, mdae
from baa.models import BoNetPlus, CQPipeline, DQPipeline, PlainPipeline, QualityClassifier, ResUNet
from baa.profiles import Profile, get_profile
from baa.train import (TrainConfig, bf16_supported, fit_classifier, fit_regressor, fit_restorer, load_checkpoint,
                       predict)
from baa.experiments.artifacts import _finished, _train_or_load, artifact_dir
from baa.experiments.datasets import _tensors, dataset
from baa.io.atomic import save_json
from baa.paper import KINDS








def train_config(p: Profile, task: str, seed: int = 0, progress: bool = True) -> TrainConfig:
    epochs, batch, lr = {"regressor": (p.epochs_regressor, p.batch_regressor, p.lr_regressor),
                         "classifier": (p.epochs_classifier, p.batch_classifier, p.lr_classifier),
                         "restorer": (p.epochs_resunet, p.batch_resunet, p.lr_resunet)}[task]
    schedule = "constant" if p.name == "paper" else "cosine"
    return TrainConfig(epochs=epochs, batch_size=batch, lr=lr, seed=p.seed + seed, schedule=schedule, progress=progress,
                       amp_cpu=p.train_bf16 and bf16_supported("cpu"))



def _bonet(p: Profile) -> BoNetPlus:
    return BoNetPlus(width=p.width)



def loss_comparison(profile: str | Profile | None = None, progress: bool = True) -> dict:
    """BoNet+ trained with L_MAE and with L_MSE on the same k-fold splits (section 4.3, Table 2).

    Returns ``{"mae"|"mse": {"folds": [{"mae", "mdae", "pred", "true"}...], "mae_mean", "mae_std",
    "mdae_mean", "mdae_std"}}``; only ``cv_folds_run`` of the ``folds`` are trained at the CPU
    profiles (all five at ``paper``)."""
    p = get_profile(profile)
    data = dataset(p, "train", progress)
    splits = kfold_splits(data.age, k=p.folds, seed=p.seed)[: p.cv_folds_run]
    out = {}
    for loss in ("mae", "mse"):
        folds = []
        for f, (tr, va) in enumerate(splits):
            path = artifact_dir(p) / "models" / f"bonet_{loss}_fold{f}.pt"
            torch.manual_seed(p.seed + f)
            model, hist = _train_or_load(path, p, lambda: _bonet(p),
                                         lambda m, **kw: fit_regressor(m, _tensors(data, tr), train_config(p, "regressor", f, progress),
                                                                       loss=loss, val=_tensors(data, va), **kw))
            pred = predict(model, data.images[va])
            true = data.age[va]
            folds.append({"fold": f, "mae": mae(pred, true), "mdae": mdae(pred, true), "pred": pred.tolist(),
                          "true": true.tolist(), "history": hist})
        m, md = np.array([x["mae"] for x in folds]), np.array([x["mdae"] for x in folds])
        out[loss] = {"folds": folds, "n_folds": len(folds), "mae_mean": float(m.mean()), "mae_std": float(m.std()),
                     "mdae_mean": float(md.mean()), "mdae_std": float(md.std())}
    # the per-fold predictions stay (the claims' paired bootstrap), the training histories do not
    save_json({k: {**{kk: vv for kk, vv in v.items() if kk != "folds"},
                   "folds": [{kk: vv for kk, vv in f.items() if kk != "history"} for f in v["folds"]]}
               for k, v in out.items()}, artifact_dir(p) / "results" / "table2.json")
    return out



def regressors(profile: str | Profile | None = None, progress: bool = True) -> dict[str, BoNetPlus]:
    """``plain``: BoNet+_MAE on high-quality images (fold 0 of the loss comparison, reused);
    ``nq``: BoNet+_MAE on the same split with every image degraded by a random quality (NQ)."""
    p = get_profile(profile)
    data = dataset(p, "train", progress)
    tr, va = kfold_splits(data.age, k=p.folds, seed=p.seed)[0]
    fold0 = artifact_dir(p) / "models" / "bonet_mae_fold0.pt"
    if _finished(fold0, p) is None:
        loss_comparison(p, progress)  # trains bonet_mae_fold0 (with the rest of Table 2)
    plain, _ = load_checkpoint(fold0)
    torch.manual_seed(p.seed)
    nq, _ = _train_or_load(artifact_dir(p) / "models" / "bonet_nq.pt", p, lambda: _bonet(p),
                           lambda m, **kw: fit_regressor(m, _tensors(data, tr), train_config(p, "regressor", 0, progress),
                                                         loss="mae", val=_tensors(data, va), qualities=QUALITIES, **kw))
    return {"plain": plain.eval(), "nq": nq.eval()}


# DQ's single model learns every kind, the three at once, and to leave good images alone.
DQ_KINDS = ("high", "noise", "label", "lowres", "all")



def restorers(profile: str | Profile | None = None, progress: bool = True) -> dict[str, ResUNet]:
    """The ResUNets: ``dq`` (trained on ``DQ_KINDS``) and one expert per degradation for CQ."""
    p = get_profile(profile)
    data = dataset(p, "train", progress)
    out = {}
    for name, kinds in [("dq", DQ_KINDS), ("noise", ("noise",)), ("label", ("label",)), ("lowres", ("lowres",))]:
        torch.manual_seed(p.seed)
        out[name], _ = _train_or_load(artifact_dir(p) / "models" / f"resunet_{name}.pt", p,
                                      lambda: ResUNet(width=p.width, depth=p.resunet_depth),
                                      lambda m, **kw: fit_restorer(m, _tensors(data), train_config(p, "restorer", 0, progress),
                                                                   kinds=kinds, **kw))
    return out



def classifier(profile: str | Profile | None = None, multi_label: bool = False, progress: bool = True) -> QualityClassifier:
    """The VGG quality classifier (4-way softmax; or the multi-label view)."""
    p = get_profile(profile)
    data = dataset(p, "train", progress)
    torch.manual_seed(p.seed)
    name = "classifier_multilabel" if multi_label else "classifier"
    model, _ = _train_or_load(artifact_dir(p) / "models" / f"{name}.pt", p,
                              lambda: QualityClassifier(width=p.classifier_width, hidden=p.classifier_hidden or None,
                                                        multi_label=multi_label),
                              lambda m, **kw: fit_classifier(m, _tensors(data), train_config(p, "classifier", 0, progress),
                                                             size=p.classifier_size or None, **kw))
    return model



def build_pipelines(profile: str | Profile | None = None, progress: bool = True) -> dict[str, torch.nn.Module]:
    """``{"plain", "cq", "dq", "nq", "cq_multilabel"}`` as modules in eval mode (Fig. 10)."""
    p = get_profile(profile)
    regs, res = regressors(p, progress), restorers(p, progress)
    experts = {k: res[k] for k in KINDS}
    cs = p.classifier_size or None
    return {"plain": PlainPipeline(regs["plain"]).eval(),
            "cq": CQPipeline(classifier(p, False, progress), experts, regs["plain"], cs).eval(),
            "dq": DQPipeline(res["dq"], regs["plain"]).eval(),
            "nq": PlainPipeline(regs["nq"]).eval(),
            "cq_multilabel": CQPipeline(classifier(p, True, progress), experts, regs["plain"], cs).eval()}



def degraded_set(images: torch.Tensor, kind: str, seed: int = 1234) -> torch.Tensor:
    """The test images under one quality, the same bits for every pipeline (seeded per kind)."""
    return D.degrade(images, kind, seed + QUALITIES.index(kind) if kind in QUALITIES else seed + 99)



@torch.inference_mode()
def run_pipeline(pipe: torch.nn.Module, images: torch.Tensor, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Ages (and, for CQ, predicted classes) of ``images``."""
    ages, classes = [], []
    for i in range(0, len(images), batch_size):
        out = pipe(images[i:i + batch_size])
        if isinstance(out, tuple):
            ages.append(out[0])
            classes.append(out[1])
        else:
            ages.append(out)
    return torch.cat(ages).float(), (torch.cat(classes) if classes else None)



def assessment(profile: str | Profile | None = None, progress: bool = True) -> dict:
    """Tables 4-5 and Fig. 12: every pipeline on the held-out test set under each quality, plus
    the three degradations at once (the paper: DQ 0.824 / 0.733). Also the classifier's confusion
    matrix on the test set (the paper: > 98 % accuracy)."""
    p = get_profile(profile)
    test = dataset(p, "test", progress)
    pipes = build_pipelines(p, progress)
    results: dict = {"profile": p.name, "source": test.source, "n_test": len(test), "mae": {}, "mdae": {}, "ccs": {},
                     "pred": {}, "true": test.age.tolist()}  # per-image ages: the claims' paired bootstrap
    confusion = np.zeros((4, 4), dtype=int)
    for kind in QUALITIES + ("all",):
        x = degraded_set(test.images, kind)
        for name, pipe in pipes.items():
            if name == "cq_multilabel" and kind != "all":
                continue
            pred, cls = run_pipeline(pipe, x)
            results["mae"].setdefault(name, {})[kind] = mae(pred, test.age)
            results["mdae"].setdefault(name, {})[kind] = mdae(pred, test.age)
            results["pred"].setdefault(name, {})[kind] = pred.tolist()
            t, c = ccs(pred, test.age)
            results["ccs"].setdefault(name, {})[kind] = c.tolist()
            if name == "cq" and kind in QUALITIES:
                for j in cls.tolist():
                    confusion[QUALITIES.index(kind), j] += 1
    results["ccs_thresholds"] = t.tolist()
    results["confusion"] = confusion.tolist()
    results["classifier_accuracy"] = float(np.trace(confusion) / confusion.sum())
    save_json(results, artifact_dir(p) / "results" / "assessment.json")
    return results



def load_pipeline(name: str = "dq", profile: str | Profile | None = None, checkpoint_dir: str | Path | None = None) -> torch.nn.Module:
    """A trained pipeline from ``artifacts/<profile>/models`` (or ``checkpoint_dir``), without
    training anything: raises ``FileNotFoundError`` naming what is missing and how to make it."""
    d = Path(checkpoint_dir) if checkpoint_dir else artifact_dir(profile) / "models"
    need = {"plain": ["bonet_mae_fold0"], "nq": ["bonet_nq"], "dq": ["resunet_dq", "bonet_mae_fold0"],
            "cq": ["classifier", "resunet_noise", "resunet_label", "resunet_lowres", "bonet_mae_fold0"]}[name]
    missing = [n for n in need if not (d / f"{n}.pt").exists()]
    if missing:
        raise FileNotFoundError(f"{d}: no trained {', '.join(missing)} checkpoint; run `make book` "
                                f"(or `make book PROFILE=smoke`) to train them")
    m = {n: load_checkpoint(d / f"{n}.pt")[0] for n in need}
    reg = m["bonet_nq"] if name == "nq" else m["bonet_mae_fold0"]
    if name in ("plain", "nq"):
        return PlainPipeline(reg).eval()
    if name == "dq":
        return DQPipeline(m["resunet_dq"], reg).eval()
    cs = get_profile(profile).classifier_size or None
    return CQPipeline(m["classifier"], {k: m[f"resunet_{k}"] for k in KINDS}, reg, cs).eval()
