"""The model card of the shipped model (``baa/weights/MODEL_CARD.md``), written from what
``python -m baa.experiments.shipped`` measured of it (``shipped.json``), the spread of its recipe over seeds
(``transfer_recipes``' ``recipes.json``), the image recipe (``transfer run``'s ``results.json``) and
the shipped files (sizes, sha256). The card's other marked sections (film_restore's, handnet's) are carried over.

    python -m baa.experiments.transfer_card

Layer: experiments.
"""

from __future__ import annotations

import re

import numpy as np

from baa.experiments.bone_maps import areas_against_phantoms, map_sensitivity
from baa.experiments.shipped import SHIPPED_VARIANT, load_shipped_results
from baa.experiments.transfer import (ANATOMY, N_HELD_OUT, PHANTOM_TEST, SHIPPED_HEAD, TTA, Recipe, load_results, mean_sd,
                                      phantom_inputs, real_inputs)
from baa.experiments.transfer_recipes import REFERENCE, VARIANTS, load_recipes, with_head
from baa.metrics import seed_difference
from baa.models import BoneSegmenter
from baa.train import predict
from baa.weights import FILES, load_shipped, sha256
from baa.weights import HERE as WEIGHTS_DIR
from baa.weights.model import AGE_MIN


def write_card() -> None:
    """Rewrite ``MODEL_CARD.md``: this file's part from the results, the other marked sections kept."""
    card = WEIGHTS_DIR / "MODEL_CARD.md"
    old, new = card.read_text(), model_card()
    for m in re.finditer(r"<!-- ([\w-]+) -->.*?<!-- /\1 -->", old, flags=re.S):
        new = new.rstrip("\n") + "\n\n" + m.group(0) + "\n"
    card.write_text(new)


def _fmt(s: dict) -> str:
    return f"MAE {s['mae']:.2f} y, r {s['r']:.2f}, bias {s['bias']:+.2f} y"


def _rows(name: str, ev: dict) -> list[str]:
    """Table rows of one ``transfer.evaluate``: zero-shot, with AdaBN, each head by leave-one-out."""
    out = [f"| {name}, zero-shot | none | {_fmt(ev['zero_shot'])} |"]
    if "adabn" in ev:
        out.append(f"| {name}, zero-shot + AdaBN (statistics of the other 37 real films) | none | {_fmt(ev['adabn']['zero_shot'])} |")
    out += [f"| {name} + {h} | 27 (leave-one-out) | {_fmt(sc)} |" for h, sc in ev["cv"].items()]
    return out


def model_card(shipped: dict | None = None, recipes: dict | None = None, images: dict | None = None) -> str:
    """``baa/weights/MODEL_CARD.md`` from ``shipped`` (``load_shipped_results``), ``recipes``
    (``load_recipes``), ``images`` (``load_results``) and the shipped files."""
    shipped = shipped if shipped is not None else load_shipped_results() or {}
    recipes = recipes if recipes is not None else load_recipes() or {}
    images = images if images is not None else load_results() or {}
    m = load_shipped()
    meta, r = m["meta"], m["meta"]["recipe"]
    ev = shipped.get("evaluation")
    variant = shipped.get("variant") or SHIPPED_VARIANT
    rows = "\n".join(f"| `{f}` | {(WEIGHTS_DIR / f).stat().st_size} | `{sha256(WEIGHTS_DIR / f)}` |"
                     for f in FILES[:1])  # the film restorer's row is in its own section
    lines = ["| model | real labels | rsna-dev (28 films) |", "|---|---|---|",
             "| before issue 18: cpu-profile DQ through `baa assess` (measured in the issue, not here) | none | "
             "MAE 3.31 y, r 0.61, bias +1.9 y |"]
    base = shipped.get("baseline") or recipes.get("baseline") or images.get("baseline")
    if base:
        lines.append(f"| always the mean age of all 28 (in-sample) | 28 | MAE {base['mean_all']['mae']:.2f} y |")
        lines.append(f"| always the mean age of the other 27 (leave-one-out) | 27 | MAE {base['mean_loo']['mae']:.2f} y |")
    if ev:
        lines += _rows("shipped (bone maps)", ev)
    img = images.get("variants", {}).get("randomised")
    if img:
        lines += [row for row in _rows("image recipe, seed 0 (shipped before the bone maps)", img) if SHIPPED_HEAD in row or "zero-shot |" in row]
    tod = ", ".join(f"{k} {val:.1f}" for k, val in (ev or {}).get("toddlers", {}).items())
    real = real_inputs(m["size"])
    if real and "toddlers" in real:  # the shipped model itself, as baa assess reads them
        t = predict(m["pipe"].regressor, m["pipe"].network_view(real["toddlers"]["image"]), batch_size=16, device="cpu",
                    tta=TTA).numpy()
        tod += "; by the shipped model (its head included): " + ", ".join(
            f"{k} {val:.1f}" for k, val in zip(real["toddlers"]["names"], t))
        low = int((t <= AGE_MIN).sum())  # every view clamped: the head's raw age is below its range
        tod += (f" ({int((t < 4).sum())} of {len(t)} under 4 y; {low} at the head's lower bound, {AGE_MIN:g} y: its linear "
                f"correction, fitted on films of 1.1 y and older, carries them below it, and `baa assess` reports the "
                f"bound with a warning)")
    spread = recipes.get("variants", {})
    segmenter = _segmenter_text(m, real, (ev or {}).get("toddlers"))
    sensitivity = _sensitivity_text(m, real)
    total = sum((WEIGHTS_DIR / f).stat().st_size for f in FILES)
    return CARD.format(files=rows, n=r["n"], size=r["size"], width=r["width"], epochs=r["epochs"], lr=r["lr"],
                       seed=r["seed"], head=meta["head"], threads=meta["threads"], torch=meta["torch"],
                       render=r.get("render_size", 128), spread=r.get("proportion_spread", 1.0),
                       maps=r.get("maps", "none"), seg_loss=r.get("seg_loss", "bce"), total=total, mib=total / 2**20,
                       jitter=_jitter_text(r),
                       table="\n".join(lines), toddlers=tod or "(not measured)",
                       seeds=_seeds_text(spread.get(variant), spread.get(REFERENCE), ev, variant),
                       curve=_curve_text(ev), wall=_wall_text((shipped.get("shipped") or {}).get("seconds")),
                       against_mean=_against_mean(base, spread.get(variant)), segmenter=segmenter, sensitivity=sensitivity,
                       maps_text=_maps_text(spread, variant, r.get("maps", "")), joint_maps=_joint_maps_text(recipes))


def _segmenter_text(m: dict, real: dict | None, toddlers: dict | None) -> str:
    """How much of a real film the shipped segmenter marks against held-out phantoms of the same age
    (``areas_against_phantoms``, median over the rsna-dev films and over the five youngest), on every map it
    gives whether or not BoNet+ reads it, and the rank correlation of a toddler film's carpal area with its
    zero-shot reading (``toddlers``)."""
    pipe = m["pipe"]
    if pipe.segmenter is None or not real:
        return "How much of a real film the segmenter marks is measured where `../shared` is present."
    rec = m["meta"]["recipe"]
    ph = phantom_inputs(N_HELD_OUT, m["size"], rec["seed"], start=PHANTOM_TEST, render_size=rec.get("render_size", Recipe.render_size),
                        **{f: rec[f] for f in ANATOMY if f in rec})
    names = BoneSegmenter.MAP_NAMES
    rs = real["rsna"]
    ratio = areas_against_phantoms(pipe.segmenter.maps(rs["image"], names), rs["age"], pipe.segmenter.maps(ph["image"], names), ph["age"])
    young = np.argsort(rs["age"].numpy())[:5]
    med = lambda r: ", ".join(f"{n} {np.nanmedian(r[:, k]):.2f}x" for k, n in enumerate(names))  # noqa: E731
    unread = [n for n in names if n not in pipe.maps]
    out = (f"On the 28 `rsna-dev` films it marks, against {N_HELD_OUT} held-out phantoms within a year of each film's age "
           f"(median ratio of the areas{'; BoNet+ does not read ' + ' or '.join(unread) if unread else ''}): {med(ratio)}; "
           f"on the five youngest ({rs['age'][young].min():.1f}-{rs['age'][young].max():.1f} y): {med(ratio[young])}.")
    if toddlers and "toddlers" in real:
        t = real["toddlers"]
        area = (pipe.segmenter.maps(t["image"], ("carpals",))[:, 0] > 0.5).double().mean((1, 2)).numpy()
        read = np.array([toddlers[n] for n in t["names"]])
        rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
        out += (f" On the toddler films, a film's carpal area and its zero-shot reading have a rank correlation of "
                f"{np.corrcoef(rank(area), rank(read))[0, 1]:.2f}"
                f"{', although BoNet+ does not read the carpal map' if 'carpals' in unread else ''}.")
    return out


def _sensitivity_text(m: dict, real: dict | None) -> str:
    """How much the shipped BoNet+'s zero-shot age on the rsna-dev films hangs on each map's area
    (``bone_maps.map_sensitivity``: one map at a time grown or shrunk at test time)."""
    pipe = m["pipe"]
    if pipe.segmenter is None or not real:
        return ""
    rs = real["rsna"]
    rows = map_sensitivity(pipe.regressor.bonet, pipe.network_view(rs["image"]), rs["age"].numpy(), pipe.maps)
    fmt = lambda s: f"MAE {s['mae']:.2f} y, bias {s['bias']:+.2f} y, r {s['r']:.2f}"  # noqa: E731
    jittered = " although it learned them jittered" if m["meta"]["recipe"].get("map_jitter") else ""
    return (f"Its zero-shot age hangs on a map's area{jittered} (`bone_maps.map_sensitivity`: "
            f"one map of the 28 films at a time grown or shrunk by whole pixels at test time): as segmented {fmt(rows[0])}; "
            + "; ".join(f"{s['map']} {s['step']:+d} px {fmt(s)}" for s in rows[1:]) + ".")


ALL_MAPS = "bone_maps_all_dice"  # chapter 11's recipe with BoNet+ reading all three maps of the same segmenter
# what the shipped recipe is compared with: the same segmenter recipe, BoNet+ reading other maps or trained without
# the map jitter
OTHER_MAPS = ((ALL_MAPS, "BoNet+ reading all three maps"), ("bone_maps_bones_dice", "BoNet+ reading the bone map alone"),
              ("bone_maps_no_carpals", "BoNet+ reading the bone and epiphysis maps, trained without the map jitter"),
              ("bone_maps_jitter_tubular", "BoNet+ reading the bone map without what the carpal map marks (`tubular`), "
               "with the same jitter"))


def _decided(d: float, se: float) -> str:
    """A difference of means read at twice its standard error, in the card's words."""
    return "within the spread" if abs(d) <= 2 * se else "beyond twice its error"


def _joint_maps_text(recipes: dict) -> str:
    """The real labels inside BoNet+'s training on bone maps (the ``transfer_recipes.JOINT`` settings whose recipe
    reads maps, and each ``with_head``): each one's k-fold MAE and r (and its youngest toddler reading, where kept),
    against its own recipe's head under leave-one-out on the same seeds (a difference of the means ± its standard
    error from two seeds of each; with one, the two values, undecided). The head's own mean is named: it comes from
    the trainings stored beside the joint ones, which on another machine or phantom version are another draw than
    the recipe's figures elsewhere in the card."""
    out = []
    for name, v in with_head(recipes).items():
        recipe, runs = v.get("variant", REFERENCE), v.get("seeds") or []
        if not runs or not VARIANTS.get(recipe, ("", {}))[1].get("maps"):
            continue
        seeds = {e["seed"] for e in runs}
        ref = [e for e in (recipes.get("variants", {}).get(recipe) or {}).get("seeds", []) if e["seed"] in seeds]
        mae = [e["cv"]["mae"] for e in runs]
        how = ("BoNet+ trained on the phantoms, then fine-tuned on the other folds' real films alone"
               if v.get("phantoms") == "before" else "the other folds' real films among the phantoms")
        what = (f"film by film the mean of `{v['mean_of']}`'s reading and its phantom-trained network's {SHIPPED_HEAD} "
                f"(leave-one-out)" if "mean_of" in v else f"`{recipe}`'s maps, {how} x{v['repeat']}, {v['folds']} folds")
        text = (f"`{name}` ({what}, {len(runs)} seed{'s' if len(runs) > 1 else ''}): MAE {np.mean(mae):.2f} y, "
                f"r {np.mean([e['cv']['r'] for e in runs]):.2f}")
        if all(e.get("toddlers") for e in runs):  # readings kept: the youngest toddler's, unbounded
            text += f", youngest toddler reading {mean_sd([min(e['toddlers'].values()) for e in runs])} y"
        head = [e["cv"][SHIPPED_HEAD]["mae"] for e in ref]
        if len(runs) >= 2 and len(ref) >= 2:
            d, se = seed_difference(head, mae)
            text += (f"; against `{recipe}` with {SHIPPED_HEAD} (leave-one-out, its {len(ref)} trainings of the same "
                     f"seeds stored beside it: MAE {mean_sd(head)} y): MAE {d:+.2f} ± {se:.2f} y ({_decided(d, se)})")
            if all("r" in e["cv"][SHIPPED_HEAD] for e in ref):
                d, se = seed_difference([e["cv"][SHIPPED_HEAD]["r"] for e in ref], [e["cv"]["r"] for e in runs])
                text += f", r {d:+.2f} ± {se:.2f} ({_decided(d, se)})"
        elif ref:
            text += (f"; `{recipe}` with {SHIPPED_HEAD} on the same seed, leave-one-out: MAE {np.mean(head):.2f} y "
                     "(one seed decides nothing)")
        out.append(text)
    return "On bone maps: " + "; ".join(out) + "." if out else "None of these was tried on bone maps."


def _maps_text(spread: dict, variant: str, maps: str, others=OTHER_MAPS) -> str:
    """Which maps BoNet+ reads, and what ``variant`` changed against each of ``others`` (the same segmenter
    recipe; other maps, or other training on them): each a difference of the means over seeds ± its standard
    error, decided at twice it, or where it is measured."""
    if not maps:
        return "BoNet+ reads the image, no maps."
    names = maps.split(",")
    if set(names) == set(BoneSegmenter.MAP_NAMES):
        return "BoNet+ reads all three maps."
    out = [f"BoNet+ reads the {' and '.join(f'`{m}`' for m in names)} map{'s' if len(names) > 1 else ''} only."]
    b = (spread.get(variant) or {}).get("seeds") or []
    for other, what in (o for o in others if o[0] != variant):
        a = (spread.get(other) or {}).get("seeds") or []
        if len(a) < 2 or len(b) < 2:
            out.append(f"Against `{other}` it is compared by `python -m baa.experiments.transfer_recipes --variants "
                       f"{other},{variant} --joint '' --seeds 9`.")
            continue
        parts = []
        for label, get, unit in (("zero-shot r", lambda e: e["zero_shot"]["r"], ""),
                                 (f"{SHIPPED_HEAD} leave-one-out MAE", lambda e: e["cv"][SHIPPED_HEAD]["mae"], " y"),
                                 ("zero-shot bias", lambda e: e["zero_shot"]["bias"], " y")):
            d, se = seed_difference([get(e) for e in a], [get(e) for e in b])
            parts.append(f"{label} {d:+.2f} ± {se:.2f}{unit} ({_decided(d, se)})")
        out.append(f"Against {what} (`{other}`, {len(a)} seeds; `{variant}`, {len(b)}; difference of the "
                   f"means ± its standard error): " + "; ".join(parts) + ".")
    return " ".join(out)


def _curve_text(ev: dict | None) -> str:
    """The learning curve of the shipped networks' head (``evaluate``'s ``curve``), in one sentence."""
    if not ev or SHIPPED_HEAD not in ev.get("curve", {}):
        return "The learning curve is measured by `python -m baa.experiments.shipped`."
    c = ev["curve"][SHIPPED_HEAD]
    return (f"Learning curve of the {SHIPPED_HEAD} head on these networks (leave-one-out MAE against the number of "
            f"labelled films it is fitted on; 20 random draws each below 27): "
            + ", ".join(f"{k} films {v:.2f} y" for k, v in c.items()) + ".")


def _against_mean(base: dict | None, v: dict | None) -> str:
    """The card's sentence on the recipe with its head against always answering the mean age (leave-one-out)."""
    runs = (v or {}).get("seeds") or []
    b = ((base or {}).get("mean_loo") or {}).get("mae")
    if not runs or b is None:
        return "Its recipe's leave-one-out error over seeds is measured by `python -m baa.experiments.transfer_recipes`."
    loo = np.array([e["cv"][SHIPPED_HEAD]["mae"] for e in runs])
    m, sd = float(loo.mean()), float(loo.std(ddof=1)) if len(loo) > 1 else 0.0
    word = "below" if m + sd < b else "above" if m - sd > b else "within one SD of"
    return (f"With its head ({SHIPPED_HEAD}, leave-one-out) the recipe's MAE, {m:.2f} ± {sd:.2f} y over {len(loo)} "
            f"training{'s' if len(loo) > 1 else ''}, is {word} that of always answering the mean age of the other films "
            f"({b:.2f} y), and far from the target.")


def _wall_text(seconds) -> str:
    """The card's sentence on the rebuild's wall time, which a measurement of the file alone (``--measure``)
    does not know."""
    if seconds is None:
        return "The wall time of its build was not measured with this file."
    return f"Measured wall time of the phantom rendering and both trainings on the 2-core development machine: {seconds} s."


def _jitter_text(r: dict) -> str:
    """The card's words on BoNet+'s map jitter (``Recipe.map_jitter``), if its recipe has one."""
    p, dilate = r.get("map_jitter", 0.0), r.get("map_dilate", Recipe.map_dilate)
    if not p:
        return ""
    how = "dilated or eroded" if 0 < dilate < 1 else "dilated" if dilate else "eroded"
    radius = int(r.get("map_radius", Recipe.map_radius))
    by = "one pixel" if radius == 1 else f"1 to {radius} pixels"
    return (f", each map {how} by {by} with probability {p:g} (`map_jitter`: the segmenter marks a real film's "
            f"structures over other areas than a phantom's)")


def _seeds_text(v: dict | None, ref: dict | None, ev: dict | None, variant: str) -> str:
    """The card's sentence on the spread over trainings of the shipped recipe and of the image recipe
    (``transfer_recipes --variants images,<variant> --seeds N``)."""
    runs = (v or {}).get("seeds") or []
    if len(runs) < 2:
        return (f"The spread over trainings is measured by `python -m baa.experiments.transfer_recipes --variants "
                f"{REFERENCE},{variant} --joint '' --seeds 9`.")
    f = lambda rs, get: mean_sd([get(e) for e in rs])
    say = lambda rs: (f"zero-shot MAE {f(rs, lambda e: e['zero_shot']['mae'])} y, r {f(rs, lambda e: e['zero_shot']['r'])}; "
                      f"with AdaBN MAE {f(rs, lambda e: e['adabn']['mae'])} y; {SHIPPED_HEAD} leave-one-out MAE "
                      f"{f(rs, lambda e: e['cv'][SHIPPED_HEAD]['mae'])} y, r {f(rs, lambda e: e['cv'][SHIPPED_HEAD]['r'])}; "
                      f"toddlers under 4 y {f(rs, lambda e: sum(t < 4 for t in e['toddlers'].values()))} of 10")
    out = (f"The recipe (`{variant}` in chapter 11) trained on {len(runs)} seeds (new phantoms, segmenter and BoNet+ each; "
           f"mean ± SD over trainings): {say(runs)}.")
    other = (ref or {}).get("seeds") or []
    if len(other) > 1:
        out += f" The image recipe (`{REFERENCE}`), on {len(other)} seeds: {say(other)}."
    if ev:
        loo = [e["cv"][SHIPPED_HEAD]["mae"] for e in runs]
        own = ev["cv"][SHIPPED_HEAD]["mae"]
        out += (f" The shipped model is the seed-{ev['recipe']['seed']} training with its segmenter stored in fp16; its "
                f"{SHIPPED_HEAD} leave-one-out MAE, {own:.2f} y, would rank {1 + sum(x < own for x in loo)} of "
                f"{len(loo) + 1} among the seeds: one draw from this spread, not the recipe's expected error.")
    return out


CARD = """# Model card: the shipped bone-age model (`baa/weights`)

Two networks at {size} x {size} px. A `BoneSegmenter` (`baa.models`, the residual U-Net's body with one output
map each for the bones, the carpals and the epiphyses) marks where the bones are in the prepared,
intensity-standardised image (`baa.data.prepare`, then `baa.weights.standardise_image`); BoNet+ (Table 1, width
{width}) reads its maps ({maps}), never the image, and a `{head}` head on BoNet+'s features, fitted on the 28 real
RSNA films of `../shared/rsna-dev`, gives the age. Both networks learned from phantoms only: the segmenter the
phantoms' exact masks, BoNet+ their ages from the segmenter's maps of them, so that what reaches BoNet+ is anatomy
(bone lengths, widths, gaps, ossification centres) and not the phantom's look (chapter 11, "Bone maps").
`baa.weights.load_shipped()` returns what `baa.assess.assess.load_models` returns (pipeline `"shipped"`: `restore`
is the standardisation and the maps, `regressor` BoNet+ with its head). `baa assess` runs no ResUNet before it:
the real films are not degraded the way the paper's DQ restorer was trained for. `baa restore` runs the
film-scale ResUNet of the last section (`baa.weights.load_film_restorer()`). The four checkpoint files of
`baa/weights` weigh {total} bytes ({mib:.1f} MiB) in all.

## Files

| file | bytes | sha256 |
|---|---|---|
{files}

## Data

- {n} phantoms (`baa.phantom`, seed {seed}, ages uniform 0-19 y, both sexes), rendered at {render} px, their
  proportions (hand width, bone width, soft tissue) scattered {spread:g}x as widely as the phantom's own
  (`PhantomConfig.proportion_spread`), their look randomised by `baa.phantom.appearance` (exposure, gamma,
  background, scatter, blur, noise, rotation, zoom, collimation, markers, rulers), written as 8-bit PNGs and
  prepared like a film; their bone, carpal and epiphysis masks follow each image through the same steps.
- 28 real films with labels (`../shared/rsna-dev`: RSNA Pediatric Bone Age Challenge 2017, 1.1-15 y, mean
  9.0 y, 9 boys, 19 girls; non-commercial research use with attribution). They fit the head only.
- No Digital Hand Atlas, no other real film.

## Training command

`make weights` (= `python -m baa.experiments.shipped`, then `python -m baa.experiments.transfer_card`): the
segmenter 10 epochs, Adam, lr 0.002, cosine schedule, loss `{seg_loss}` (cross-entropy with soft Dice), its weights
then rounded to fp16 (as stored); BoNet+ Adam, lr {lr}, cosine schedule, L_MAE, {epochs} epochs, batch 32, the
package's augmentation on the maps{jitter}, fp32, {threads} threads, torch {torch}; then the head fitted on all 28 films
({head}: ridge regression of the residual age on BoNet+'s standardised features, alpha chosen by leave-one-out on
the films). Deterministic: same machine (CPU kernels) and thread count, same bytes; another machine trains another
draw of the recipe from the same seed (chapter 11's recipe table gives the spread over nine seeds): the phantoms it
trains on are the same bytes whatever the x86 CPU's vector instructions from AVX2 up (tested), the trainings' kernels
are not. `python -m baa.experiments.shipped --measure` measures the committed file as it is, with no training. {wall}

## Measured errors (rsna-dev; `python -m baa.experiments.shipped`, chapter 11)

{table}

The shipped head is fitted on all 28 films, so its error on them is in-sample; the leave-one-out rows above
are the honest estimate of its error on new films like these. {curve}

{seeds}

Toddler films (`../shared/real-xrays`, unlabelled, all infants/toddlers), read zero-shot by the shipped networks
without their head (years): {toddlers}.

Issue 18's targets are **not met**: zero-shot MAE <= 2.0 y with r >= 0.8 and toddlers under 4 y; with real
labels (cross-validated) <= 1.2 y. {against_mean}

## Known limits

- Few real films: 28 for the head, 19 of them girls; sex is not used. The leave-one-out error has a wide
  uncertainty (a few films move it by tenths of a year).
- Zero-shot (without its head) the networks read real hands several years too old, though in the right order
  more often than the image recipe did: the head's bias term carries most of the correction.
- Weakest where there are no labelled films: under 2 y and over 15 y; the head's correction is linear in
  BoNet+'s features and extrapolates poorly there. The toddler films have no labels at all.
- The segmenter learned the phantom's bones and reads real films otherwise (chapter 11 shows its maps). {segmenter}
  Carpal area tells age (the carpals ossify through childhood), and the youngest films' wrists are marked as
  carpals over an area no phantom of their age shows, and less epiphysis area (the ratios above). {maps_text}
  {sensitivity}
- The phantom's anatomy is not yet the real one (tubular bones as straight rods, the thumb on a thin web,
  carpals apart). What else chapter 11 tried was measured on images, not maps, and with the first preparation
  (`recipes_prep1.json`), against the image recipe: the anatomy variants (plump infants, fanned fingers, packed
  carpals, together, trained longer) lowered the zero-shot bias together but raised the leave-one-out error with
  the head, and none ordered the films better (r); aligning BoNet+'s features with the 38 unlabelled real films
  (CORAL, `coral_align`) lowered the zero-shot MAE mostly through its bias, to about the mean-age baseline on
  films it did not align on, and lowered r and raised the leave-one-out error with the head; showing the network
  only the bones' detail (`bone_detail`) did the same; the real labels inside BoNet+'s own training (`joint_x8`,
  `joint_x32`, `joint_x128`, four folds) left no cross-validated MAE outside the image recipe's spread, and BoNet+
  trained on the real films alone (`real_only`) read them as well. {joint_maps}
- {size} px input: fine epiphyseal detail (capping, fusion lines) is below its resolution; a 128-px input
  (`input_128`, images, first preparation) learned the phantoms better and read the real films no better.
- The preparation (`baa.data.prepare`, version 2) finds the hand inside an exposed field brighter than the
  film around it (a third of the `rsna-dev` films, the three youngest among them). A phantom whose randomised
  background is brighter than its hand can still have the background taken for the hand.
- Not a medical device.
"""


if __name__ == "__main__":
    write_card()
