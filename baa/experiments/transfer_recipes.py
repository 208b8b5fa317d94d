"""Which phantom closes the gap to real films (issue 18, chapter 11): the image recipe (``images``) against
variants of the phantom's anatomy and of the training, each trained on several seeds and scored on
held-out phantoms, on the real films zero-shot (as trained and with AdaBN) and with the shipped head
under leave-one-out, so that every difference is read against the spread between trainings; and the
real labels inside BoNet+'s own training (``JOINT``: the labelled films among the phantoms, after them by
fine-tuning the phantom-trained network, or alone; k-fold). A variant with ``maps`` (``bone_maps``) first
trains a segmenter on each seed's phantoms (``baa.experiments.bone_maps``); BoNet+ then reads its maps, and the
first seed's maps of the real films are saved beside the results for chapter 11 (``bone_maps_<variant>.pt``).

    python -m baa.experiments.transfer_recipes            # every variant, 3 seeds -> artifacts/transfer/recipes.json
    python -m baa.experiments.transfer_recipes --variants images,packed_carpals --joint '' --seeds 2
    python -m baa.experiments.transfer_recipes --variants '' --joint joint_x8   # real labels in training only

The file is written after every training and a rerun skips what it holds, so an interrupted run
continues where it stopped. No variant replaces the shipped model; ``baa.experiments.shipped`` builds it from
the variant it names (``SHIPPED_VARIANT``).

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

from baa.experiments import versioned
from baa.experiments.bone_maps import dice, example, train_segmenter, with_maps
from baa.experiments.transfer import (FINE_TUNE_EPOCHS, FINE_TUNE_LR, N_HELD_OUT, OUT, PHANTOM_TEST, PREPARATION,
                                      SHIPPED_HEAD, Recipe, cached_phantoms, evaluate, fine_tune, heldout_mae,
                                      heldout_zero_shot, loo, mean_age_baseline, mean_sd, network_inputs, real_inputs,
                                      scores, seed_scores, shared_dir, train_bonet, unlabelled)
from baa.models import BoNetPlus

# name -> (what changes from the image recipe, Recipe fields); the anatomy fields are PhantomConfig's
VARIANTS = {
    "images": ("BoNet+ reads the standardised image (the shipped recipe until bone_maps_all_dice replaced it)", {}),
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
    "bone_detail": ("every image, phantom and film, reduced to its detail inside the hand (baa.data.prepare.bone_detail, "
                    "sigma 1.5 px): soft tissue and the hand's shading no longer reach the network", {"detail": 1.5}),
    "bone_detail_wide": ("the same reduction at sigma 3 px: whole bones kept, the soft tissue's slope removed",
                         {"detail": 3.0}),
    "bone_maps": ("BoNet+ reads where the bones are, not the image: the bone map of a segmenter trained on the "
                  "phantoms' masks (baa.experiments.bone_maps), on phantoms and films alike", {"maps": "bones"}),
    "bone_maps_all": ("the same with the carpal and epiphysis maps beside the bone map (three channels)",
                      {"maps": "bones,carpals,epiphyses"}),
    "bone_maps_all_dice": ("the three maps from a segmenter trained with the soft Dice beside the cross-entropy, so "
                           "that no map is learned as empty", {"maps": "bones,carpals,epiphyses", "seg_loss": "bce_dice"}),
    "bone_maps_no_carpals": ("the same segmenter; BoNet+ reads the bone and epiphysis maps only (the segmenter marks young "
                             "real wrists as carpals far more than phantoms': the model card)",
                             {"maps": "bones,epiphyses", "seg_loss": "bce_dice"}),
    "bone_maps_bones_dice": ("the same segmenter; BoNet+ reads its bone map only (the segmenter marks less epiphysis "
                             "area on real films than on phantoms of their age: the model card)",
                             {"maps": "bones", "seg_loss": "bce_dice"}),
    "bone_maps_seg_blur": ("bone and epiphysis maps from a segmenter trained on phantoms half of them blurred (sigma up to "
                           "1.5 px, masks sharp): it marks little of the real films' finger epiphyses, whose physes a "
                           "64-px film blurs", {"maps": "bones,epiphyses", "seg_loss": "bce_dice", "seg_blur": 1.5}),
    "bone_maps_seg_zoom": ("bone and epiphysis maps from a segmenter trained on phantoms half of them warped with their "
                           "masks, zoomed out to 0.7x: real films' fingers are thinner in the frame than the phantoms'",
                           {"maps": "bones,epiphyses", "seg_loss": "bce_dice", "seg_zoom": 0.7}),
    "bone_maps_visible_epiphyses": ("bone and epiphysis maps from a segmenter that learns as epiphyses only the bone inside "
                                    "each growth region (nucleus and metaphyseal edge, which a film shows), not the whole "
                                    "region with its physis and margin", {"maps": "bones,epiphyses", "seg_loss": "bce_dice",
                                                                          "epiphysis_mask": "bone"}),
    "bone_maps_jitter": ("bone_maps_no_carpals' maps; in BoNet+'s training each map is eroded or dilated by a pixel half "
                         "the time, so that a map's area, which the segmenter gets wrong on real films, tells less",
                         {"maps": "bones,epiphyses", "seg_loss": "bce_dice", "map_jitter": 0.5}),
    "bone_maps_jitter_light": ("the same, each map eroded or dilated a quarter of the time",
                               {"maps": "bones,epiphyses", "seg_loss": "bce_dice", "map_jitter": 0.25}),
    "bone_maps_erode": ("the same, each map eroded (never dilated) half the time: the segmenter marks less on real films "
                        "than on phantoms", {"maps": "bones,epiphyses", "seg_loss": "bce_dice", "map_jitter": 0.5,
                                             "map_dilate": 0.0}),
    "bone_maps_jitter_wide": ("the same jitter half the time, each map by one or two pixels: the shipped model still reads "
                              "a film's epiphysis map grown by a pixel as over a year younger", {"maps": "bones,epiphyses",
                              "seg_loss": "bce_dice", "map_jitter": 0.5, "map_radius": 2}),
    "bone_maps_jitter_tubular": ("the same jitter; BoNet+ reads the tubular bones (the bone map where the carpal map is "
                                 "not) and the epiphyses: occluding the wrist of the bone map lowers the shipped model's "
                                 "reading of a real film most, and the segmenter marks real wrists as carpals over more "
                                 "area than phantoms'", {"maps": "tubular,epiphyses", "seg_loss": "bce_dice",
                                                         "map_jitter": 0.5}),
}
# Chapter 11's verdicts on the bone-maps recipes: a recipe -> the variants that change one thing of it (which maps
# BoNet+ reads; how the segmenter learns; how BoNet+ is trained on the maps)
MAPS_COMPARISONS = {"bone_maps_all_dice": ("bone_maps_no_carpals", "bone_maps_bones_dice"),
                    "bone_maps_no_carpals": ("bone_maps_seg_blur", "bone_maps_seg_zoom", "bone_maps_visible_epiphyses",
                                             "bone_maps_jitter_light", "bone_maps_jitter"),
                    "bone_maps_jitter": ("bone_maps_erode", "bone_maps_jitter_wide", "bone_maps_jitter_tubular")}
# name -> (what, how many times each labelled real film is repeated, where the recipe's 1600 phantoms come in
# (PHANTOMS), the variant whose recipe is trained: its phantoms and, with maps, its segmenter's maps of both)
JOINT = {"joint_x8": ("the image recipe's phantoms with the real films of the other folds among them, each "
                      "repeated x8 (~10 % of an epoch)", 8, "among", "images"),
         "joint_x32": ("the same, the real films repeated x32 (~30 % of an epoch)", 32, "among", "images"),
         "joint_x128": ("the same, the real films repeated x128 (~60 % of an epoch)", 128, "among", "images"),
         "real_only": ("no phantom: the other folds' real films alone, repeated x76 (as many steps as the "
                       "phantoms give)", 76, "none", "images"),
         "maps_joint_x32": ("the shipped recipe (bone_maps_jitter): its segmenter's maps of the phantoms with its maps of "
                            "the real films of the other folds among them, each repeated x32", 32, "among", "bone_maps_jitter"),
         "maps_finetune_x32": ("the shipped recipe's BoNet+, trained on the phantoms' maps, then fine-tuned on its "
                               "segmenter's maps of the other folds' real films alone, each repeated x32 "
                               f"({FINE_TUNE_EPOCHS} epochs, {FINE_TUNE_LR:g} of the learning rate)", 32, "before",
                               "bone_maps_jitter")}
# the phantoms in the same training as the films, before them (BoNet+ trained on them, then fine-tuned on the films:
# transfer.fine_tune), or not at all
PHANTOMS = ("among", "before", "none")
JOINT_FOLDS = 4
UNLEARNED = 0.1  # a segmenter's map with a held-out Dice below this was not learned (it marks ~nothing)
RECIPES_JSON = OUT / "recipes.json"


def _start(out: Path, base: Recipe) -> tuple[dict, dict, Path]:
    """``(results so far, the real films at base.size, out)``: the file read (or begun), its baseline set."""
    torch.set_num_threads(base.threads)
    real = real_inputs(base.size)
    if real is None:
        raise FileNotFoundError(f"{shared_dir()}: no real films to evaluate on")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    res = _renamed(versioned.begin(out, {"variants": {}}))  # a file of another preparation is kept aside, never mixed in
    res["baseline"] = mean_age_baseline(real["rsna"]["age"].numpy().astype(np.float64))
    return res, real, out


def compare(variants=tuple(VARIANTS), seeds: int = 3, out: Path = RECIPES_JSON, base: Recipe = Recipe()) -> dict:
    """Train each variant on seeds ``base.seed ..`` and score it (``transfer.evaluate``, one repeat of
    the learning curve). Returns ``{"variants": {name: {"what", "recipe", "seeds": [scores]}}}``."""
    res, real, out = _start(out, base)
    reals = {base.size: real}  # the real films prepared at each input size a variant uses
    for name in variants:
        what, fields = VARIANTS[name]
        res["variants"].setdefault(name, {"what": what, "recipe": fields, "seeds": []})
    todo = [(n, s) for n in variants for s in range(base.seed, base.seed + seeds)
            if s not in {e["seed"] for e in res["variants"][n]["seeds"]}]
    for name, s in tqdm(todo, desc="recipes x seeds"):
        rs = replace(base, **VARIANTS[name][1], seed=s)
        if rs.size not in reals:
            reals[rs.size] = real_inputs(rs.size)
        data, real = cached_phantoms(rs, out.parent), reals[rs.size]
        held = cached_phantoms(replace(rs, n=N_HELD_OUT), out.parent, start=PHANTOM_TEST)
        extra = {}
        if rs.maps:  # a segmenter for this seed; BoNet+ reads its maps of everything
            seg = train_segmenter(data, rs)
            extra["segmenter_dice"] = dice(seg, held, rs)
            if s == base.seed:
                torch.save(example(seg, real, held, rs), out.parent / f"bone_maps_{name}.pt")
            data, held = with_maps(seg, data, rs), with_maps(seg, held, rs)
            real = {k: with_maps(seg, v, rs) for k, v in real.items()}
        model = train_bonet(data, rs, unlabelled=unlabelled(real, rs))
        res["variants"][name]["seeds"].append({**seed_scores(evaluate(model, real, rs, name, repeats=1, phantoms=held), s),
                                               **extra})
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


def joint_cv(data: dict, r: Recipe, real: dict, folds: int = 4, repeat: int = 8, progress: bool = False,
             pretrained: BoNetPlus | None = None) -> dict:
    """The real labels inside the network's training, cross-validated: ``folds`` trainings of BoNet+ on the
    phantoms ``data`` plus the rsna-dev films outside one fold (each repeated ``repeat`` times beside the
    phantoms), each reading its own fold's films (film ``i`` is in fold ``i % folds``) and the toddlers. No
    film is scored by a network that trained on it. With ``pretrained`` (BoNet+ trained on the phantoms), each
    fold fine-tunes a copy of it on ``data`` plus its films instead (``transfer.fine_tune``). Returns ``{"cv":
    scores, "pred", "toddlers" (mean over the folds' networks), "toddler_max"}``."""
    rs = real["rsna"]
    y = rs["age"].numpy().astype(np.float64)
    fold = np.arange(len(y)) % folds
    pred, tod = np.zeros(len(y)), []
    keys = ("image", "raw", "maps") if r.maps else ("image", "raw")  # with maps: the segmenter's of phantoms and films
    for k in tqdm(range(folds), desc=f"joint training, {folds} folds", leave=False, disable=not progress):
        held = torch.from_numpy(fold == k)
        train = {key: torch.cat([data[key], rs[key][~held].repeat(repeat, 1, 1, 1)]) for key in keys}
        for key in ("age", "male"):
            train[key] = torch.cat([data[key].float(), rs[key][~held].float().repeat(repeat)])
        model = train_bonet(train, r) if pretrained is None else fine_tune(pretrained, train, r)
        pred[fold == k] = network_inputs(model, r.view(rs)[held])[1]
        if "toddlers" in real:
            tod.append(network_inputs(model, r.view(real["toddlers"]))[1])
    out = {"cv": scores(pred, y), "pred": pred.tolist()}
    if tod:
        t = np.mean(tod, 0)
        out["toddlers"] = dict(zip(real["toddlers"]["names"], [round(float(v), 2) for v in t]))
        out["toddler_max"] = float(t.max())
    return out


def compare_joint(names=tuple(JOINT), seeds: int = 3, out: Path = RECIPES_JSON, base: Recipe = Recipe()) -> dict:
    """Each ``JOINT`` setting on seeds ``base.seed ..``: ``joint_cv`` (``JOINT_FOLDS`` trainings a
    seed) with its variant's phantoms among the films, before them (BoNet+ trained on the phantoms, its zero-shot
    scores kept beside, then fine-tuned on each fold's films) or none (the real films alone); a variant with maps
    first trains that seed's segmenter, and BoNet+ reads its maps of phantoms and films. Each seed keeps its
    readings of every film (``pred``, out of fold; the toddlers'; "before": the phantom-trained network's zero-shot
    ``zero_shot_pred`` and its ``SHIPPED_HEAD`` by leave-one-out, ``head_pred``). Written to ``out`` under
    ``"joint"`` after every seed; a rerun skips what the file holds, and trains again a seed stored without its
    readings (by an earlier version), saying whether its scores came out the same."""
    res, real, out = _start(out, base)
    for name in names:
        what, repeat, phantoms, variant = JOINT[name]
        res.setdefault("joint", {}).setdefault(name, {"what": what, "repeat": repeat, "phantoms": phantoms,
                                                      "variant": variant, "folds": JOINT_FOLDS, "seeds": []})
        res["joint"][name].update(ids=list(real["rsna"]["ids"]), true=real["rsna"]["age"].tolist())
    order = [*JOINT, *(n for n in res["joint"] if n not in JOINT)]  # the table's rows in JOINT's order
    res["joint"] = {n: res["joint"][n] for n in order if n in res["joint"]}
    out.write_text(json.dumps(res, indent=1))
    todo = [(n, s) for n in names for s in range(base.seed, base.seed + seeds)
            if s not in {e["seed"] for e in res["joint"][n]["seeds"] if "pred" in e}]
    for name, s in tqdm(todo, desc="joint training x seeds"):
        _, repeat, phantoms, variant = JOINT[name]
        rs = replace(base, **VARIANTS[variant][1], seed=s)
        data, films = cached_phantoms(rs, out.parent), real
        if rs.maps:
            seg = train_segmenter(data, rs)
            data, films = with_maps(seg, data, rs), {k: with_maps(seg, v, rs) for k, v in real.items()}
        pretrained, zero_shot = None, {}
        if phantoms == "before":  # the recipe's own network (as compare trains it), then the films alone
            pretrained = train_bonet(data, rs)
            y = films["rsna"]["age"].numpy().astype(np.float64)
            F, p = network_inputs(pretrained, rs.view(films["rsna"]))
            zero_shot = {"zero_shot": scores(p, y), "zero_shot_pred": p.tolist(),
                         "head_pred": loo(SHIPPED_HEAD, F, p, y).tolist()}
        if phantoms != "among":
            data = {k: v[:0] for k, v in data.items()}
        j = joint_cv(data, rs, films, JOINT_FOLDS, repeat, progress=True, pretrained=pretrained)
        entry = {"seed": s, "cv": j["cv"], "toddler_max": j.get("toddler_max"), **zero_shot,
                 "pred": j["pred"], "toddlers": j.get("toddlers")}
        runs = res["joint"][name]["seeds"]
        if (old := next((e for e in runs if e["seed"] == s), None)) is not None:  # stored without its readings
            same = all(old[k] == entry[k] for k in ("cv", "zero_shot", "toddler_max") if k in old)  # to the last bit
            tqdm.write(f"{name}, seed {s}: readings added; its stored scores came out {'the same' if same else 'DIFFERENT'}")
            runs.remove(old)
        runs.append(entry)
        runs.sort(key=lambda e: e["seed"])
        out.write_text(json.dumps(res, indent=1))
    return res


def with_head(res: dict) -> dict:
    """``res["joint"]`` and, after each setting whose phantoms come before the films and whose seeds kept their
    readings, one more, ``<name> + <SHIPPED_HEAD>``: film by film the mean of its out-of-fold reading and its
    phantom-trained network's ``SHIPPED_HEAD`` under leave-one-out (``head_pred``, the head ``compare_joint`` keeps),
    ``mean_of`` naming the setting. Neither model saw the film, so their mean did not either. Its rule was set
    before any reading was kept: it is read against the head alone on the same seeds."""
    out = {}
    for name, v in res.get("joint", {}).items():
        out[name] = v
        means = {e["seed"]: (np.asarray(e["pred"]) + np.asarray(e["head_pred"])) / 2
                 for e in v["seeds"] if "head_pred" in e and "pred" in e}
        if v.get("phantoms") == "before" and means and "true" in v:
            y = np.asarray(v["true"], np.float64)
            out[f"{name} + {SHIPPED_HEAD}"] = {
                **v, "mean_of": name,
                "what": f"the mean of {name}'s reading and its phantom-trained network's {SHIPPED_HEAD} (leave-one-out), "
                        "film by film",
                "seeds": [{"seed": seed, "cv": scores(m, y), "pred": m.tolist()} for seed, m in means.items()]}
    return out


def cross_validation(v: dict) -> str:
    """How a joint setting's films were held out, in words: its folds, and leave-one-out too for a ``with_head``."""
    return f"{v['folds']}-fold" + (" and leave-one-out" if "mean_of" in v else "")


def joint_rows(res: dict) -> list[dict]:
    """One row per ``JOINT`` setting (and each ``with_head``): mean ± SD over seeds of its cross-validated MAE, r
    and bias on rsna-dev and the oldest and youngest toddler readings (blank where those were not kept)."""
    rows = []
    for name, v in with_head(res).items():
        runs = v["seeds"]
        if runs:
            f = lambda get: mean_sd([get(e) for e in runs])
            toddlers = f(lambda e: e["toddler_max"]) if all(e.get("toddler_max") is not None for e in runs) else ""
            youngest = f(lambda e: min(e["toddlers"].values())) if all(e.get("toddlers") for e in runs) else ""
            rows.append({"variant": name, "what": v["what"], "seeds": len(runs), f"{v['folds']}-fold MAE":
                         f(lambda e: e["cv"]["mae"]), "r": f(lambda e: e["cv"]["r"]), "bias": f(lambda e: e["cv"]["bias"]),
                         "oldest toddler": toddlers, "youngest toddler": youngest})
    return rows


REFERENCE = "images"  # the variant every other is read against (chapter 11's verdicts)
_RENAMED = {"shipped": REFERENCE}  # earlier names in stored results


def _renamed(res: dict | None) -> dict | None:
    """Stored results with their variants under today's names (``images`` was ``shipped`` until bone maps
    were shipped) and today's descriptions of the recipes they name."""
    if res and "variants" in res:
        res["variants"] = {_RENAMED.get(k, k): v for k, v in res["variants"].items()}
        for name, v in res["variants"].items():
            if name in VARIANTS and v.get("recipe") == VARIANTS[name][1]:
                v["what"] = VARIANTS[name][0]
    for name, v in (res or {}).get("joint", {}).items():
        if name in JOINT:
            v["what"] = JOINT[name][0]
    return res


def load_recipes(path: Path = RECIPES_JSON) -> dict | None:
    """The comparison, if measured with the current preparation."""
    return _renamed(versioned.load(path))


def load_earlier(path: Path = RECIPES_JSON) -> dict:
    """``{version: results}`` measured with earlier preparations than the current one, newest first."""
    files = {v: versioned.archived(v, path) for v in range(PREPARATION - 1, 0, -1)}
    return {v: _renamed(json.loads(f.read_text())) for v, f in files.items() if f.exists()}


def holding(part: str, path: Path = RECIPES_JSON) -> list[tuple[int, dict]]:
    """``[(preparation, results)]``: every preparation's results that hold ``part`` (``"variants"`` or ``"joint"``),
    the current preparation's first, then the earlier ones', newest first; empty when none does."""
    now = load_recipes(path)
    found = ({PREPARATION: now} if now else {}) | load_earlier(path)
    return [(v, res) for v, res in found.items() if res.get(part)]


def recipe_rows(res: dict, head: str = SHIPPED_HEAD) -> list[dict]:
    """One row per variant: mean ± SD over its seeds of the held-out phantom MAE, the zero-shot MAE (and on
    films an aligned variant did not align on, ``heldout_mae``), r and bias on rsna-dev, the AdaBN MAE, the
    ``head``'s leave-one-out MAE and r, the oldest toddler reading and (where recorded) how many of the
    toddlers read under 4 years; for a bone-maps variant, how many seeds' segmenters left a map unlearned
    (held-out Dice under ``UNLEARNED``)."""
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
                     "oldest toddler": f(lambda e: e["toddler_max"]),
                     "toddlers under 4 y": f(lambda e: sum(v < 4 for v in e["toddlers"].values()))
                     if all(e.get("toddlers") for e in runs) else "–",
                     "segmenters with a map unlearned": f"{sum(min(e['segmenter_dice'].values()) < UNLEARNED for e in runs)} "
                     f"of {len(runs)}" if all("segmenter_dice" in e for e in runs) else "–"})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.transfer_recipes")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    ap.add_argument("--joint", default=",".join(JOINT), help=f"comma-separated, of: {', '.join(JOINT)} ('' for none)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(RECIPES_JSON))
    a = ap.parse_args(argv)
    names = [v for v in a.variants.split(",") if v]
    joint = [v for v in a.joint.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS] + [v for v in joint if v not in JOINT]
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join([*VARIANTS, *JOINT])}")
    if names:
        compare(tuple(names), a.seeds, Path(a.out))
    if joint:
        compare_joint(tuple(joint), a.seeds, Path(a.out))
    res = load_recipes(Path(a.out))
    for row in recipe_rows(res) + joint_rows(res):
        print(row)


if __name__ == "__main__":
    main()
