"""DQ on the experts' budget: is DQ's shortfall (chapter 10's failed claims) a finding or our schedule?

The book trains DQ's one ResUNet for the epochs of one CQ expert (``tables.restorers``), while it learns
five kinds (``tables.DQ_KINDS``: high, noise, label, low resolution, all three): each kind gets about a
fifth of an expert's training. The paper trains DQ "because more training samples are sent to one
network" (section 4.4), so it saw at least the experts' samples together. This experiment trains DQ
again with ``factor`` times the epochs (default: the three experts' together), keeps every other network
(the plain BoNet+ behind it, the test images and their degradations) and scores it on the test set as
``tables.assessment`` does; chapter 10 decides the claims again with it
(``analysis.claims.claims_by_dq_budget``).

    python -m baa.experiments.dq_budget [--profile cpu] [--factor 3]

At the cpu profile: 45 ResUNet epochs, about 6 min on 2 cores with bf16; it reuses the book's networks
(or trains them first). Writes ``artifacts/<profile>/results/dq_budget.json``.

Layer: experiments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from baa.experiments.artifacts import artifact_dir, train_or_load
from baa.experiments.datasets import dataset
from baa.experiments.tables import (DQ_KINDS, assessment, degraded_set, plain_regressor, restorers, run_pipeline,
                                    train_config)
from baa.io import save_json
from baa.metrics import mae, mdae
from baa.models import DQPipeline, ResUNet
from baa.paper import KINDS, QUALITIES
from baa.profiles import Profile, resolve
from baa.restore import psnr
from baa.train import fit_restorer

FACTOR = len(KINDS)  # the three CQ experts' epochs together


def results_path(p: Profile) -> Path:
    return artifact_dir(p) / "results" / "dq_budget.json"


def budget_restorer(p: Profile, factor: int = FACTOR, progress: bool = True) -> ResUNet:
    """DQ's ResUNet trained as ``tables.restorers`` trains it, with ``factor`` times the epochs."""
    data = dataset(p, "train", progress)
    cfg = train_config(p, "restorer", 0, progress)
    cfg = dataclasses.replace(cfg, epochs=cfg.epochs * factor)
    torch.manual_seed(p.seed)
    model, _ = train_or_load(artifact_dir(p) / "models" / f"resunet_dq_x{factor}.pt", p,
                             lambda: ResUNet(width=p.width, depth=p.resunet_depth),
                             lambda m, checkpoint, extra: fit_restorer(m, data.tensors(), cfg, kinds=DQ_KINDS,
                                                                        checkpoint=checkpoint,
                                                                        extra={**extra, "dq_budget": factor}),
                             identity={"dq_budget": factor})
    return model


def run(p: Profile, factor: int = FACTOR, progress: bool = True) -> dict:
    """DQ with ``factor`` x the epochs beside the book's pipelines on the same test images: ``{"mae",
    "mdae", "psnr" (its restorations against the clean images, dB), "psnr_book" (the book's DQ's): {kind},
    "pred": {kind: [...]}, "factor", "epochs", "seconds", "profile", "source"}``;
    written to ``results_path(p)``. The book's ``assessment.json`` is made first when missing."""
    t0 = time.perf_counter()
    book = artifact_dir(p) / "results" / "assessment.json"
    if not book.exists():
        assessment(p, progress)
    test = dataset(p, "test", progress)
    restorer = budget_restorer(p, factor, progress)
    plain = plain_regressor(p, progress)
    pipe, book_pipe = (DQPipeline(r, plain).eval() for r in (restorer, restorers(p, progress)["dq"]))
    out = {"profile": p.name, "source": test.source, "n_test": len(test), "factor": factor,
           "epochs": p.epochs_resunet * factor, "mae": {}, "mdae": {}, "psnr": {}, "psnr_book": {}, "pred": {}}
    clean = test.images.float()
    for kind in QUALITIES + ("all",):
        x = degraded_set(test.images, kind)
        pred, _ = run_pipeline(pipe, x)
        out["mae"][kind], out["mdae"][kind] = mae(pred, test.age), mdae(pred, test.age)
        out["pred"][kind] = pred.tolist()
        for key, q in (("psnr", pipe), ("psnr_book", book_pipe)):  # restoration alone, against the clean image
            with torch.inference_mode():
                out[key][kind] = psnr(torch.cat([q.restore(x[i:i + 64]) for i in range(0, len(x), 64)]), clean)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    save_json(out, results_path(p))
    return out


def load(p: Profile) -> dict | None:
    """The results ``run`` wrote for this profile and data, or ``None``."""
    f = results_path(p)
    return json.loads(f.read_text()) if f.exists() else None


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.dq_budget", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default=None)
    ap.add_argument("--data", default=None)
    ap.add_argument("--format", default="rsna")
    ap.add_argument("--factor", type=int, default=FACTOR)
    a = ap.parse_args(argv)
    res = run(resolve(a.profile, a.data, a.format), a.factor)
    print(json.dumps({k: res[k] for k in ("profile", "factor", "epochs", "mae", "psnr", "psnr_book", "seconds")}, indent=1))


if __name__ == "__main__":
    main()
