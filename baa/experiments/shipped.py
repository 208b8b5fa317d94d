"""The model shipped in ``baa/weights`` (issue 18, chapter 11): the recipe ``transfer_recipes`` measured best on
the real films, trained from scratch and given a head fitted on all of ``../shared/rsna-dev``.

``SHIPPED`` is the variant ``SHIPPED_VARIANT`` of ``transfer_recipes.VARIANTS``: a ``BoneSegmenter`` learns
the phantoms' bone, carpal and epiphysis masks, and BoNet+ reads its maps ``SHIPPED.maps`` of the standardised
image (the bones and the epiphyses), never the image, having learned them with each map eroded or dilated at random
(``SHIPPED.map_jitter``). ``rebuild`` renders the phantoms, trains both networks, fits the head, saves
``baa/weights/bonet_real.pt`` (the segmenter's weights in fp16, so that ``baa/weights`` stays within 20 MB) and,
with ``record``, measures the shipped networks on the real films (``transfer.evaluate``: zero-shot, AdaBN,
every head by leave-one-out, the learning curve, the toddlers) into ``artifacts/transfer/shipped.json``,
which the model card (``transfer_card``) and chapter 11 render.

    python -m baa.experiments.shipped          # rebuild and measure (make weights; then transfer_card)
    python -m baa.experiments.shipped --measure   # measure the committed file as it is (no training)

Layer: experiments.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from baa.experiments import versioned
from baa.experiments.bone_maps import train_segmenter, with_maps
from baa.experiments.transfer import (ANATOMY, OUT, SHIPPED_HEAD, TTA, Recipe, evaluate, mean_age_baseline, network_inputs,
                                      phantom_inputs, real_inputs, ridge_fit, shared_dir, train_bonet, unlabelled)
from baa.experiments.transfer_recipes import VARIANTS
from baa.models import BoneSegmenter, BoNetPlus
from baa.phantom import PhantomConfig
from baa.train import predict
from baa.weights import HERE as WEIGHTS_DIR
from baa.weights import CalibratedBoNet, ShippedPipeline, save_state, sha256
from baa.weights.model import build, half_precision

# chapter 11: over nine seeds, zero-shot MAE lower than bone_maps_no_carpals', r and leave-one-out MAE within the spread
SHIPPED_VARIANT = "bone_maps_jitter"
SHIPPED = replace(Recipe(), **VARIANTS[SHIPPED_VARIANT][1])
SHIPPED_JSON = OUT / "shipped.json"


def fit_shipped(model: BoNetPlus, real: dict, r: Recipe, head: str = SHIPPED_HEAD,
                segmenter: BoneSegmenter | None = None) -> ShippedPipeline:
    """The pipeline ``baa assess`` runs: standardisation, the ``segmenter``'s maps where ``r`` reads maps
    (``real`` then holds them: ``bone_maps.with_maps``), BoNet+, and a head of ``head`` fitted on all the
    rsna-dev films (no cross-validation: its errors are measured by ``evaluate``)."""
    rs = real["rsna"]
    F, p = network_inputs(model, r.view(rs))
    y = rs["age"].numpy().astype(np.float64)
    reg = CalibratedBoNet(model, F.shape[1])
    if head == "ridge_residual":
        m = ridge_fit(F, y - p)
        w = np.r_[m["w"], 0.0]
        mean, scale = np.r_[m["mean"], 0.0], np.r_[m["scale"], 1.0]
        # age = p + sum w_j (f_j - mu_j)/s_j + b: p enters with weight 1 (scale 1, mean 0)
        w[-1] = 1.0
        b = m["b"]
    elif head == "recal":
        a, b = np.polyfit(p, y, 1)
        w = np.zeros(F.shape[1] + 1)
        w[-1] = a
        mean, scale = np.zeros(F.shape[1] + 1), np.ones(F.shape[1] + 1)
    else:
        m = ridge_fit(np.c_[F, p], y)
        w, mean, scale, b = m["w"], m["mean"], m["scale"], m["b"]
    t = lambda v: torch.tensor(np.asarray(v), dtype=torch.float32)
    reg.feature_mean.copy_(t(mean))
    reg.feature_scale.copy_(t(scale))
    reg.weight.copy_(t(w))
    reg.bias.copy_(t(b))
    return ShippedPipeline(reg.eval(), segmenter, r.maps.split(",") if r.maps else ()).eval()


def rebuild(out: Path | None = None, r: Recipe = SHIPPED, head: str = SHIPPED_HEAD, progress: bool = True,
            record: Path | None = None) -> dict:
    """From scratch: render the phantoms, train the segmenter (where ``r`` reads maps) and BoNet+, fit the head
    on all rsna-dev films, save. Deterministic for the same machine and thread count. Returns ``{"path",
    "bytes", "sha256", "seconds"}`` (the rendering and training, which the model card states); with
    ``record``, that and the shipped networks measured on the real films (``evaluate``) are written there."""
    t0 = time.time()
    torch.set_num_threads(r.threads)
    real = real_inputs(r.size)
    if real is None:
        raise FileNotFoundError(f"{shared_dir() / 'rsna-dev'}: the real labelled films are needed to rebuild")
    data = phantom_inputs(r.n, r.size, r.seed, **r.phantoms())
    seg = None
    if r.maps:  # rounded to the stored precision first: every map below is one the shipped file gives
        seg = half_precision(train_segmenter(data, r, progress=progress))
        data = with_maps(seg, data, r)
        real = {k: with_maps(seg, v, r) for k, v in real.items()}
    model = train_bonet(data, r, progress, unlabelled=unlabelled(real, r))
    info = save_shipped(model, real, r, head, out, time.time() - t0, seg)
    if record is not None:
        _record(Path(record), info, model, real, r)
    return info


def measure(path: Path | None = None, record: Path = SHIPPED_JSON) -> dict:
    """The networks of a shipped file (default ``baa/weights/bonet_real.pt``) measured on the real films as
    ``rebuild(record=...)`` measures a fresh build, with no training, into ``record``.

    Why: the rebuild is deterministic on one machine only; on another CPU the same seed trains another draw
    of the recipe (chapter 11), so the committed file is measured as it is. ``seconds`` (the rebuild's wall
    time) is kept from an earlier record of the same file, else None: a file does not record it."""
    f = Path(path or WEIGHTS_DIR / "bonet_real.pt")
    state = torch.load(f, map_location="cpu", weights_only=False)
    r = replace(Recipe(), **state["meta"]["recipe"])
    torch.set_num_threads(r.threads)
    real = real_inputs(r.size)
    if real is None:
        raise FileNotFoundError(f"{shared_dir() / 'rsna-dev'}: the real labelled films are needed to measure")
    pipe = build(state)
    if pipe.segmenter is not None:
        real = {k: with_maps(pipe.segmenter, v, r) for k, v in real.items()}
    info = {"path": str(f), "bytes": f.stat().st_size, "sha256": sha256(f), "seconds": None}
    before = (versioned.load(Path(record)) or {}).get("shipped") or {}
    if before.get("sha256") == info["sha256"]:
        info["seconds"] = before.get("seconds")
    _record(Path(record), info, pipe.regressor.bonet, real, r)
    return info


def _record(record: Path, info: dict, model: BoNetPlus, real: dict, r: Recipe) -> None:
    res = versioned.begin(record, {})
    res.update(shipped=info, variant=SHIPPED_VARIANT if r == SHIPPED else None,
               baseline=mean_age_baseline(real["rsna"]["age"].numpy().astype(np.float64)),
               evaluation=evaluate(model, real, r, "shipped"))
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(res, indent=1))


# Recipe fields newer than the first shipped model
LATER = ("align", "detail", "maps", "seg_loss", "seg_blur", "seg_zoom", "epiphysis_mask",
         "map_jitter", "map_dilate", "map_radius")


def recipe_meta(r: Recipe) -> dict:
    """The recipe as the shipped file records it: an anatomy field at the phantom's default, and a field
    newer than the first shipped model (``LATER``) at its default, are left out (readers take the default), so a
    recipe that does not use a new field rebuilds the same bytes."""
    default = PhantomConfig()
    return {k: v for k, v in asdict(r).items()
            if not (k in ANATOMY and v == getattr(default, k)) and not (k in LATER and v == getattr(Recipe, k))}


def save_shipped(model, real, r: Recipe, head: str, out: Path | None, seconds: float,
                 segmenter: BoneSegmenter | None = None) -> dict:
    """Fit the head (``fit_shipped``) and save the pipeline to ``out`` (default ``baa/weights/bonet_real.pt``),
    with the ages it gives the rsna-dev films (in-sample, 16 views, as ``baa assess``) for the tests."""
    if r.detail:
        raise ValueError("the shipped pipeline (baa.weights.ShippedPipeline) does not apply bone_detail")
    if bool(r.maps) != (segmenter is not None):
        raise ValueError("a recipe that reads bone maps ships its segmenter, and only such a recipe does")
    pipe = fit_shipped(model, real, r, head, segmenter)
    out = Path(out or WEIGHTS_DIR / "bonet_real.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        ages = predict(pipe.regressor, r.view(real["rsna"]), batch_size=16, device="cpu", tta=TTA)
    # the CPU's kernels: another set trains another draw from the same seed
    meta = {"recipe": recipe_meta(r), "head": head, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu": torch.backends.cpu.get_cpu_capability(),
            "rsna_ages": dict(zip(real["rsna"]["ids"], [round(float(a), 4) for a in ages]))}
    torch.save(save_state(pipe, r.size, meta), out)
    return {"path": str(out), "bytes": out.stat().st_size, "sha256": sha256(out), "seconds": round(seconds, 1)}


def load_shipped_results(path: Path = SHIPPED_JSON) -> dict | None:
    """What ``rebuild(record=...)`` measured, if measured with the current preparation."""
    return versioned.load(path)


def measured_text(res: dict | None, weights: Path | None = None) -> str:
    """Chapter 11's line on which file ``res`` (``load_shipped_results``) measured: the one in ``baa/weights``
    that ``baa assess`` reads (or ``weights``), or a rebuild that is not it; or how to measure it."""
    if res is None:
        return ("Not measured yet: `python -m baa.experiments.shipped` (`make weights`) rebuilds and measures; "
                "`--measure` (`make measure-weights`) measures the committed file as it is.")
    f = Path(weights or WEIGHTS_DIR / "bonet_real.pt")
    got, have = res["shipped"]["sha256"], sha256(f) if f.exists() else None
    if got == have:
        return f"Measured: {f.name}, sha256 {got[:12]}…, the file `baa assess` reads."
    which = f"the {f.name} `baa assess` reads ({have[:12]}…)" if have else f"{f} (absent)"
    return (f"Measured: a build with sha256 {got[:12]}…, not {which}: on another machine the same seed trains another "
            "draw of the recipe; `make measure-weights` measures the committed file.")


def as_results(res: dict | None) -> dict | None:
    """``load_shipped_results``' measurement in the shape of ``transfer.run``'s results (one variant,
    ``shipped``), for chapter 11's tables and figures of those; None for None."""
    return res and {"baseline": res["baseline"], "variants": {"shipped": res["evaluation"]}}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.shipped", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None, help="write the model here instead of baa/weights (nothing measured)")
    ap.add_argument("--measure", action="store_true", help="measure the shipped file as it is, no training")
    a = ap.parse_args(argv)
    if a.measure:
        print(json.dumps(measure(), indent=1))
        return
    print(json.dumps(rebuild(Path(a.out)) if a.out else rebuild(record=SHIPPED_JSON), indent=1))


if __name__ == "__main__":
    main()
