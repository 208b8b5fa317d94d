"""The paper's experiments on a profile, each one function that trains (or reuses, by the artifacts
rule) its networks and returns the numbers a chapter shows: the networks of Fig. 10
(``plain_regressor``, ``regressors``, ``restorers``, ``classifier``, ``build_pipelines``), Table 2
(``loss_comparison``), Tables 4-5 and Fig. 12 (``assessment``); and ``load_pipeline``, the one way to
load a trained pipeline without training anything.

Layer: experiments.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from baa import degrade as D
from baa.data import BoneAgeData, kfold_splits
from baa.errors import InputError
from baa.experiments.artifacts import artifact_dir, finished_checkpoint, train_or_load
from baa.experiments.datasets import dataset
from baa.io import save_json
from baa.metrics import ccs, mae, mdae
from baa.models import BoNetPlus, CQPipeline, DQPipeline, PlainPipeline, QualityClassifier, ResUNet
from baa.paper import BEYOND_SUFFIX, KINDS, QUALITIES
from baa.profiles import Profile
from baa.train import (TrainConfig, bf16_supported, fit_classifier, fit_regressor, fit_restorer, load_checkpoint,
                       predict)
from baa.data.dataset import AGE_RANGE_YEARS

# DQ's single model learns every kind, the three at once, and to leave good images alone.
DQ_KINDS = ("high", "noise", "label", "lowres", "all")
RESTORER_KINDS = {"dq": DQ_KINDS, **{k: (k,) for k in KINDS}}  # DQ's ResUNet, then CQ's expert for each kind


def _fold_name(loss: str, fold: int) -> str:
    return f"bonet_{loss}_fold{fold}"


# The plain BoNet+ (Table 4's "BoNet+") is fold 0 of Table 2's L_MAE models: one network, trained once,
# as the paper trains it (``train.REGRESSOR_RECIPES["paper"]``). ``BEYOND`` is the same network, split
# and seed trained with our additions (recipe ``beyond``); ``NQ`` and ``NQ_BEYOND`` likewise for NQ.
PLAIN, NQ = _fold_name("mae", 0), "bonet_nq"
BEYOND, NQ_BEYOND = "bonet_beyond", "bonet_nq_beyond"

# Fig. 10's pipelines as the paper builds them, and the same with the BoNet+ of our recipe (the
# ResUNets and the classifier are the same networks in both: the paper's section 4.1 does not
# change them). ``cq_multilabel`` (beyond the paper) uses the ``beyond`` BoNet+.
PIPELINE_CHECKPOINTS = {"plain": (PLAIN,), "nq": (NQ,), "dq": ("resunet_dq", PLAIN),
                        "cq": ("classifier", "resunet_noise", "resunet_label", "resunet_lowres", PLAIN),
                        "plain_beyond": (BEYOND,), "nq_beyond": (NQ_BEYOND,), "dq_beyond": ("resunet_dq", BEYOND),
                        "cq_beyond": ("classifier", "resunet_noise", "resunet_label", "resunet_lowres", BEYOND)}


def train_config(p: Profile, task: str, seed: int = 0, progress: bool = True) -> TrainConfig:
    """Section 4.1's Adam settings at the profile's epochs, batch and learning rate for ``task``
    (``regressor``, ``classifier``, ``restorer``); bf16 on a CPU where the profile asks and the CPU has it."""
    epochs, batch, lr = {"regressor": (p.epochs_regressor, p.batch_regressor, p.lr_regressor),
                         "classifier": (p.epochs_classifier, p.batch_classifier, p.lr_classifier),
                         "restorer": (p.epochs_resunet, p.batch_resunet, p.lr_resunet)}[task]
    schedule = "constant" if p.name == "paper" else "cosine"
    return TrainConfig(epochs=epochs, batch_size=batch, lr=lr, seed=p.seed + seed, schedule=schedule, progress=progress,
                       amp_cpu=p.train_bf16 and bf16_supported("cpu"))


# -- the networks -----------------------------------------------------------------------------------


def _regressor(p: Profile, data: BoneAgeData, name: str, fold: int, loss: str = "mae",
               qualities: tuple[str, ...] | None = None, progress: bool = True,
               recipe: str = "paper") -> tuple[BoNetPlus, list]:
    """BoNet+ trained with ``loss`` (eq. 5 or 6) under ``recipe`` on the training part of k-fold
    split ``fold`` and validated on the rest, each image degraded by a drawn quality of
    ``qualities`` when given (NQ); cached as ``models/<name>.pt``."""
    tr, va = kfold_splits(data.age, k=p.folds, seed=p.seed)[fold]
    torch.manual_seed(p.seed + fold)
    return train_or_load(artifact_dir(p) / "models" / f"{name}.pt", p, lambda: BoNetPlus(width=p.width),
                         lambda m, **kw: fit_regressor(m, data.subset(tr).tensors(), train_config(p, "regressor", fold, progress),
                                                       loss=loss, val=data.subset(va).tensors(), qualities=qualities,
                                                       recipe=recipe, **kw),
                         identity={"recipe": recipe})


def plain_regressor(p: Profile, progress: bool = True, recipe: str = "paper") -> BoNetPlus:
    """BoNet+_MAE on high-quality images (Table 4's "BoNet+"): fold 0 of Table 2's L_MAE models
    (``recipe="paper"``; trained alone if ``loss_comparison`` has not trained it yet), or the same
    network under our recipe (``"beyond"``), loaded from its checkpoint."""
    name = PLAIN if recipe == "paper" else BEYOND
    path = artifact_dir(p) / "models" / f"{name}.pt"
    if finished_checkpoint(path, p, {"recipe": recipe}) is None:
        _regressor(p, dataset(p, "train", progress), name, 0, "mae", progress=progress, recipe=recipe)
    return load_checkpoint(path)[0]


def regressors(p: Profile, progress: bool = True) -> dict[str, BoNetPlus]:
    """``plain`` (``plain_regressor``) and ``nq``: BoNet+_MAE on the same split with every image
    degraded by a random quality (NQ, section 3.3), both as the paper trains them; ``plain_beyond``
    and ``nq_beyond``: the same under our recipe (``train.REGRESSOR_RECIPES``)."""
    out = {}
    for recipe, suffix in (("paper", ""), ("beyond", BEYOND_SUFFIX)):
        out["plain" + suffix] = plain_regressor(p, progress, recipe).eval()
        out["nq" + suffix], _ = _regressor(p, dataset(p, "train", progress), NQ if recipe == "paper" else NQ_BEYOND, 0,
                                           "mae", QUALITIES, progress, recipe)
    return out


def restorers(p: Profile, progress: bool = True) -> dict[str, ResUNet]:
    """The ResUNets (section 3.3.1): ``dq`` (trained on ``DQ_KINDS``) and one expert per degradation for CQ."""
    data = dataset(p, "train", progress)
    out = {}
    for name, kinds in RESTORER_KINDS.items():
        torch.manual_seed(p.seed)
        out[name], _ = train_or_load(artifact_dir(p) / "models" / f"resunet_{name}.pt", p,
                                     lambda: ResUNet(width=p.width, depth=p.resunet_depth),
                                     lambda m, **kw: fit_restorer(m, data.tensors(), train_config(p, "restorer", 0, progress),
                                                                  kinds=kinds, **kw))
    return out


def classifier(p: Profile, multi_label: bool = False, progress: bool = True) -> QualityClassifier:
    """The VGG quality classifier (section 3.2: 4-way softmax; or the multi-label view)."""
    data = dataset(p, "train", progress)
    torch.manual_seed(p.seed)
    name = "classifier_multilabel" if multi_label else "classifier"
    model, _ = train_or_load(artifact_dir(p) / "models" / f"{name}.pt", p,
                             lambda: QualityClassifier(width=p.classifier_width, hidden=p.classifier_hidden or None,
                                                       multi_label=multi_label),
                             lambda m, **kw: fit_classifier(m, data.tensors(), train_config(p, "classifier", 0, progress), **kw))
    return model


def build_pipelines(p: Profile, progress: bool = True) -> dict[str, torch.nn.Module]:
    """``{"plain", "cq", "dq", "nq"}`` as the paper builds them (Fig. 10), the same four with
    ``_beyond`` (our BoNet+ recipe), and ``cq_multilabel``, as modules in eval mode."""
    regs, res = regressors(p, progress), restorers(p, progress)
    experts = {k: res[k] for k in KINDS}
    clf = classifier(p, False, progress)
    out = {}
    for s in ("", BEYOND_SUFFIX):
        out.update({"plain" + s: PlainPipeline(regs["plain" + s]).eval(),
                    "cq" + s: CQPipeline(clf, experts, regs["plain" + s]).eval(),
                    "dq" + s: DQPipeline(res["dq"], regs["plain" + s]).eval(),
                    "nq" + s: PlainPipeline(regs["nq" + s]).eval()})
    out["cq_multilabel"] = CQPipeline(classifier(p, True, progress), experts, regs["plain" + BEYOND_SUFFIX]).eval()
    return out


# -- Table 2 ------------------------------------------------------------------------------------------


def _summary(folds: list[dict]) -> dict:
    m, md = np.array([x["mae"] for x in folds]), np.array([x["mdae"] for x in folds])
    return {"folds": folds, "n_folds": len(folds), "mae_mean": float(m.mean()), "mae_std": float(m.std()),
            "mdae_mean": float(md.mean()), "mdae_std": float(md.std())}


def loss_comparison(p: Profile, progress: bool = True) -> dict:
    """BoNet+ trained with L_MAE and with L_MSE on the same k-fold splits (section 4.3, Table 2).

    Returns ``{"mae"|"mse": {"folds": [{"mae", "mdae", "pred", "true"}...], "mae_mean", "mae_std",
    "mdae_mean", "mdae_std"}}``, trained as the paper trains (recipe ``paper``); only ``cv_folds_run``
    of the ``folds`` are trained at the CPU profiles (all five at ``paper``). Fold 0's L_MAE model is
    the plain BoNet+ (``PLAIN``). ``"mae_beyond"``: the same keys for fold 0 only, BoNet+_MAE under
    our recipe (``BEYOND``)."""
    data = dataset(p, "train", progress)
    splits = kfold_splits(data.age, k=p.folds, seed=p.seed)[: p.cv_folds_run]
    out = {}
    for loss in ("mae", "mse"):
        folds = []
        for f, (_, va) in enumerate(splits):
            model, hist = _regressor(p, data, _fold_name(loss, f), f, loss, progress=progress)
            pred = predict(model, data.images[va])
            true = data.age[va]
            folds.append({"fold": f, "mae": mae(pred, true), "mdae": mdae(pred, true), "pred": pred.tolist(),
                          "true": true.tolist(), "history": hist})
        out[loss] = _summary(folds)
    # beyond the paper: BoNet+_MAE of our recipe on fold 0 (the split of PLAIN, which it sits beside in Table 4)
    _, va = splits[0]
    model, hist = _regressor(p, data, BEYOND, 0, "mae", progress=progress, recipe="beyond")
    pred, true = predict(model, data.images[va]), data.age[va]
    out["mae_beyond"] = _summary([{"fold": 0, "mae": mae(pred, true), "mdae": mdae(pred, true), "pred": pred.tolist(),
                                   "true": true.tolist(), "history": hist}])
    # the per-fold predictions stay (the claims' paired bootstrap), the training histories do not
    save_json({k: {**{kk: vv for kk, vv in v.items() if kk != "folds"},
                   "folds": [{kk: vv for kk, vv in f.items() if kk != "history"} for f in v["folds"]]}
               for k, v in out.items()}, artifact_dir(p) / "results" / "table2.json")
    return out


# -- Tables 4-5 and Fig. 12 --------------------------------------------------------------------------


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


@torch.inference_mode()
def pipeline_ages(pipe: torch.nn.Module, images: torch.Tensor, tta: int = 1, batch_size: int = 16) -> torch.Tensor:
    """What ``baa assess`` reports for each image: the pipeline's restoration, then the mean age over
    ``tta`` views of it (``data.tta_views``), bounded to ``AGE_RANGE_YEARS``."""
    ages = [predict(pipe.regressor, pipe.restore(images[i:i + batch_size]), batch_size=batch_size, tta=max(1, tta))
            for i in range(0, len(images), batch_size)]
    return torch.cat(ages).reshape(-1).clamp(*AGE_RANGE_YEARS)


def assessment(p: Profile, progress: bool = True) -> dict:
    """Tables 4-5 and Fig. 12: every pipeline on the held-out test set under each quality, plus
    the three degradations at once (the paper: DQ 0.824 / 0.733). Also the classifier's confusion
    matrix on the test set (the paper: > 98 % accuracy)."""
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


# -- loading without training -------------------------------------------------------------------------


def models_dir(source: Profile | str | os.PathLike) -> Path:
    """Where ``source``'s checkpoints are: a profile's ``artifacts/<profile>/models``, or the folder given."""
    return artifact_dir(source) / "models" if isinstance(source, Profile) else Path(source)


def load_pipeline(name: str, source: Profile | str | os.PathLike) -> torch.nn.Module:
    """The trained pipeline ``name`` of Fig. 10 (``plain``, ``nq``, ``dq``, ``cq``, or one of them
    with ``_beyond``: our BoNet+ recipe) in eval mode,
    without training anything. ``source``: a profile (its ``artifacts/<profile>/models``), a folder
    of checkpoints named as ``PIPELINE_CHECKPOINTS``, or one BoNet+ checkpoint file (the plain
    pipeline of that network, whatever ``name``). Raises ``FileNotFoundError`` naming what is
    missing and how to make it, ``InputError`` for a file that holds no BoNet+."""
    if not isinstance(source, Profile) and Path(source).is_file():
        model, state = load_checkpoint(source)
        if state["spec"]["name"] != "BoNetPlus":
            raise InputError(source, f"holds a {state['spec']['name']}, not a BoNet+; pass a folder of checkpoints for dq/cq")
        return PlainPipeline(model).eval()
    d = models_dir(source)
    if not isinstance(source, Profile) and not d.is_dir():
        raise FileNotFoundError(f"{d}: no such checkpoint file or folder")
    need = PIPELINE_CHECKPOINTS[name]
    missing = [n for n in need if not (d / f"{n}.pt").exists()]
    if missing:
        raise FileNotFoundError(f"{d}: no trained {', '.join(missing)} checkpoint; run `make book` "
                                f"(or `make book PROFILE=smoke`) to train them")
    m = {n: load_checkpoint(d / f"{n}.pt")[0] for n in need}
    reg = m[need[-1]]  # the BoNet+ comes last
    base = name.removesuffix(BEYOND_SUFFIX)
    if base in ("plain", "nq"):
        return PlainPipeline(reg).eval()
    if base == "dq":
        return DQPipeline(m["resunet_dq"], reg).eval()
    return CQPipeline(m["classifier"], {k: m[f"resunet_{k}"] for k in KINDS}, reg).eval()


def trained_size(source: Profile | str | os.PathLike) -> int | None:
    """The image side the checkpoints of ``source`` (a profile, a folder, or one checkpoint file)
    were trained at, from the profile stored in them; ``None`` where none says."""
    path = Path(source) if not isinstance(source, Profile) else None
    files = [path] if path is not None and path.is_file() else \
        [models_dir(source) / f"{n}.pt" for n in (PLAIN, NQ, "resunet_dq", "classifier")]
    for f in files:
        if f.exists():
            size = ((torch.load(f, map_location="cpu", weights_only=False).get("extra") or {}).get("profile") or {}).get("image_size")
            if size:
                return int(size)
    return None
