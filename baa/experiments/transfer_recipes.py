"""Which phantom closes the gap to real films (issue 18, chapter 11): the shipped recipe against
variants of the phantom's anatomy and of the training, each trained on several seeds and scored on
held-out phantoms, on the real films zero-shot (as trained and with AdaBN) and with the shipped head
under leave-one-out, so that every difference is read against the spread between trainings.

    python -m baa.experiments.transfer_recipes            # every variant, 3 seeds -> artifacts/transfer/recipes.json
    python -m baa.experiments.transfer_recipes --variants shipped,packed_carpals --seeds 2

The file is written after every training and a rerun skips what it holds, so an interrupted run
continues where it stopped. No variant replaces the shipped model.

Layer: experiments.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from baa.experiments.transfer import (N_HELD_OUT, OUT, PHANTOM_TEST, SHIPPED_HEAD, Recipe, cached_phantoms, evaluate,
                                      heldout_mae, heldout_zero_shot, mean_age_baseline, mean_sd, real_inputs, seed_scores,
                                      shared_dir, train_bonet, unlabelled)

# name -> (what changes from the shipped recipe, Recipe fields); the anatomy fields are PhantomConfig's
VARIANTS = {
    "shipped": ("the shipped recipe", {}),
    "infant_anatomy": ("plump infants: soft tissue, long cartilage, short fanned fingers (infant_anatomy 1)",
                       {"infant_anatomy": 1.0}),
    "fanned_fingers": ("fingers fanned up to 2.5x wider, joints bent more (pose_spread 2.5)", {"pose_spread": 2.5}),
    "packed_carpals": ("carpals 1.35x larger, packed as on real films (carpal_scale 1.35)", {"carpal_scale": 1.35}),
    "all_anatomy": ("the three anatomy changes together", {"infant_anatomy": 1.0, "pose_spread": 2.5, "carpal_scale": 1.35}),
    "longer_training": ("18 epochs instead of 6: the phantom learned better", {"epochs": 18}),
    "all_anatomy_longer": ("the three anatomy changes and 18 epochs",
                           {"infant_anatomy": 1.0, "pose_spread": 2.5, "carpal_scale": 1.35, "epochs": 18}),
    "input_128": ("128-px input (phantoms rendered at 256) instead of 64: epiphyses the network can resolve",
                  {"size": 128, "render_size": 256}),
    "coral_align": ("features pulled towards the 38 unlabelled real films' (CORAL, weight 1; transductive: the "
                    "scored films' pixels are used, never their labels)", {"align": 1.0}),
    "coral_align_light": ("the same alignment at weight 0.3", {"align": 0.3}),
}
RECIPES_JSON = OUT / "recipes.json"


def compare(variants=tuple(VARIANTS), seeds: int = 3, out: Path = RECIPES_JSON, base: Recipe = Recipe()) -> dict:
    """Train each variant on seeds ``base.seed ..`` and score it (``transfer.evaluate``, one repeat of
    the learning curve). Returns ``{"variants": {name: {"what", "recipe", "seeds": [scores]}}}``."""
    torch.set_num_threads(base.threads)
    reals = {base.size: real_inputs(base.size)}  # the real films prepared at each input size a variant uses
    if reals[base.size] is None:
        raise FileNotFoundError(f"{shared_dir()}: no real films to evaluate on")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    res = json.loads(out.read_text()) if out.exists() else {"variants": {}}
    res["baseline"] = mean_age_baseline(reals[base.size]["rsna"]["age"].numpy().astype(np.float64))
    for name in variants:
        what, fields = VARIANTS[name]
        res["variants"].setdefault(name, {"what": what, "recipe": fields, "seeds": []})
    todo = [(n, s) for n in variants for s in range(base.seed, base.seed + seeds)
            if s not in {e["seed"] for e in res["variants"][n]["seeds"]}]
    for name, s in tqdm(todo, desc="recipes x seeds"):
        rs = replace(base, **VARIANTS[name][1], seed=s)
        if rs.size not in reals:
            reals[rs.size] = real_inputs(rs.size)
        model = train_bonet(cached_phantoms(rs, out.parent), rs, unlabelled=unlabelled(reals[rs.size], rs))
        held = cached_phantoms(replace(rs, n=N_HELD_OUT), out.parent, start=PHANTOM_TEST)
        res["variants"][name]["seeds"].append(seed_scores(evaluate(model, reals[rs.size], rs, name, repeats=1,
                                                                   phantoms=held), s))
        out.write_text(json.dumps(res, indent=1))
    # an aligned variant is also read on films it was not aligned on (two more trainings a seed)
    todo = [(n, e) for n in variants if VARIANTS[n][1].get("align") for e in res["variants"][n]["seeds"]
            if "zero_shot_heldout" not in e]
    for name, e in tqdm(todo, desc="aligned, held-out folds"):
        rs = replace(base, **VARIANTS[name][1], seed=e["seed"])
        if rs.size not in reals:
            reals[rs.size] = real_inputs(rs.size)
        e["zero_shot_heldout"] = heldout_zero_shot(cached_phantoms(rs, out.parent), rs, reals[rs.size])["zero_shot"]
        out.write_text(json.dumps(res, indent=1))
    return res


def load_recipes(path: Path = RECIPES_JSON) -> dict | None:
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


def recipe_rows(res: dict, head: str = SHIPPED_HEAD) -> list[dict]:
    """One row per variant: mean ± SD over its seeds of the held-out phantom MAE, the zero-shot MAE (and on
    films an aligned variant did not align on, ``heldout_mae``), r and bias on rsna-dev, the AdaBN MAE, the
    ``head``'s leave-one-out MAE and r, the oldest toddler reading."""
    rows = []
    for name, v in res["variants"].items():
        runs = v["seeds"]
        if not runs:
            continue
        f = lambda get: mean_sd([get(e) for e in runs])
        rows.append({"variant": name, "what": v["what"], "seeds": len(runs),
                     "phantom MAE": f(lambda e: e["phantom"]["mae"]) if all(e.get("phantom") for e in runs) else "–",
                     "zero-shot MAE": f(lambda e: e["zero_shot"]["mae"]), "zero-shot MAE, unseen films": f(heldout_mae),
                     "zero-shot r": f(lambda e: e["zero_shot"]["r"]),
                     "zero-shot bias": f(lambda e: e["zero_shot"]["bias"]), "AdaBN MAE": f(lambda e: e["adabn"]["mae"]),
                     f"{head} MAE": f(lambda e: e["cv"][head]["mae"]), f"{head} r": f(lambda e: e["cv"][head]["r"]),
                     "oldest toddler": f(lambda e: e["toddler_max"])})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.transfer_recipes")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(RECIPES_JSON))
    a = ap.parse_args(argv)
    names = [v for v in a.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    compare(tuple(names), a.seeds, Path(a.out))
    for row in recipe_rows(load_recipes(Path(a.out))):
        print(row)


if __name__ == "__main__":
    main()
