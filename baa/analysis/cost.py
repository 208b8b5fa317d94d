"""What a book run costs: every network ``baa.experiments.tables`` trains at a profile, the images and
epochs each sees, its training FLOPs (counted on the ``meta`` device), and, once the book has run,
the rate each network actually trained at (from the seconds its checkpoint's history records).

This is how the README puts a time on ``make book PROFILE=paper`` on hardware nobody here has
measured: the run's FLOPs, divided by the rate a device sustains (``python -m baa.analysis.cost
--profile paper --tflops R``), and, where a run has finished, the rate it reached.

Layer: analysis.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

import torch

from baa.analysis.timing import model_cost
from baa.experiments.artifacts import artifact_dir
from baa.experiments.tables import BEYOND, NQ, NQ_BEYOND, RESTORER_KINDS, _fold_name
from baa.models import BoNetPlus, QualityClassifier, ResUNet
from baa.profiles import PROFILES, Profile, get_profile


@dataclass(frozen=True)
class Trained:
    """One network the book trains: its checkpoint ``name``, ``kind`` (bonet, resunet, classifier),
    ``epochs`` and training ``images`` per epoch."""

    name: str
    kind: str
    epochs: int
    images: int


def training_plan(p: Profile) -> list[Trained]:
    """Every network chapters 3-5 train at profile ``p`` (``tables.loss_comparison``, ``regressors``,
    ``restorers``, ``classifier``), in checkpoint-name order. A BoNet+ trains on the other folds of
    a k-fold split: ``n_images`` less one fold."""
    fold_train = p.n_images - p.n_images // p.folds
    regs = [_fold_name(loss, f) for loss in ("mae", "mse") for f in range(p.cv_folds_run)] + [NQ, BEYOND, NQ_BEYOND]
    plan = [Trained(n, "bonet", p.epochs_regressor, fold_train) for n in regs]
    plan += [Trained(f"resunet_{k}", "resunet", p.epochs_resunet, p.n_images) for k in RESTORER_KINDS]
    plan += [Trained(n, "classifier", p.epochs_classifier, p.n_images) for n in ("classifier", "classifier_multilabel")]
    return sorted(plan, key=lambda t: t.name)


def network_costs(p: Profile) -> dict[str, dict]:
    """``model_cost`` of each kind of network as the profile builds it, at its image size."""
    builds = {"bonet": lambda: BoNetPlus(width=p.width), "resunet": lambda: ResUNet(width=p.width, depth=p.resunet_depth),
              "classifier": lambda: QualityClassifier(width=p.classifier_width, hidden=p.classifier_hidden or None)}
    return {k: model_cost(b, p.image_size) for k, b in builds.items()}


def training_flops(p: Profile) -> dict:
    """``{"networks": [{name, kind, epochs, images, pflop}], "by_kind": {kind: pflop}, "total_pflop"}``:
    forward and backward FLOPs of every training step of the plan (the optimiser, data loading,
    validation and precise BN are not counted)."""
    cost = network_costs(p)
    rows = [{**t.__dict__, "pflop": cost[t.kind]["train_flops"] * t.epochs * t.images / 1e15} for t in training_plan(p)]
    by_kind = {k: sum(r["pflop"] for r in rows if r["kind"] == k) for k in cost}
    return {"profile": p.name, "networks": rows, "by_kind": by_kind, "total_pflop": sum(by_kind.values())}


def achieved_rates(p: Profile) -> dict[str, dict]:
    """For each network of the plan whose checkpoint finished under ``artifacts/<profile>/models``:
    the seconds its epochs took (the history's ``seconds``) and the training TFLOP/s that makes."""
    flops = {r["name"]: r for r in training_flops(p)["networks"]}
    out = {}
    for name, r in flops.items():
        path = artifact_dir(p) / "models" / f"{name}.pt"
        if not path.exists():
            continue
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        if ckpt["epoch"] < ckpt["config"]["epochs"]:
            continue
        seconds = float(sum(h.get("seconds", 0.0) for h in ckpt["history"]))
        out[name] = {"seconds": seconds, "tflops_per_s": r["pflop"] * 1e3 / seconds if seconds else float("nan")}
    return out


def main(argv=None) -> int:
    """``python -m baa.analysis.cost [--profile P] [--tflops R ...] [--images N]``: the plan's training
    FLOPs (``N`` training images: a real dataset's), the hours they take at each sustained rate ``R``
    (TFLOP/s), and the rates a finished run reached."""
    ap = argparse.ArgumentParser(prog="python -m baa.analysis.cost", description=main.__doc__.splitlines()[0])
    ap.add_argument("--profile", default=None, choices=list(PROFILES))
    ap.add_argument("--tflops", type=float, nargs="*", default=[], help="sustained training rates to price the run at")
    ap.add_argument("--images", type=int, default=None, help="training images of a real dataset (default: the profile's)")
    a = ap.parse_args(argv)
    p = get_profile(a.profile)
    if a.images:
        p = dataclasses.replace(p, n_images=a.images)
    f = training_flops(p)
    print(f"profile {p.name}: {len(f['networks'])} networks, {f['total_pflop']:.3f} PFLOP of training steps")
    for r in f["networks"]:
        print(f"  {r['name']:<24} {r['kind']:<10} {r['epochs']:>4} epochs x {r['images']:>5} images  {r['pflop']:9.4f} PFLOP")
    for rate in a.tflops:
        print(f"at {rate:g} TFLOP/s sustained: {f['total_pflop'] * 1e3 / rate / 3600:.2f} h")
    for name, r in achieved_rates(p).items():
        print(f"  measured {name:<24} {r['seconds']:8.0f} s  {r['tflops_per_s'] * 1e3:8.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
