"""The model card of the shipped BoNet+ (``baa/weights/MODEL_CARD.md``), written from the results of
``python -m baa.experiments.transfer run`` and the shipped files (sizes, sha256). The card's other marked
sections (film_restore's, handnet's) are carried over.

    python -m baa.experiments.transfer_card

Layer: experiments.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from baa.experiments.transfer import SHIPPED_HEAD, TTA, load_results, mean_sd, real_inputs
from baa.train import predict
from baa.weights import FILES, load_shipped, sha256
from baa.weights import HERE as WEIGHTS_DIR


def write_card() -> None:
    """Rewrite ``MODEL_CARD.md``: this file's part from the results, the other marked sections kept."""
    card = WEIGHTS_DIR / "MODEL_CARD.md"
    old, new = card.read_text(), model_card()
    for m in re.finditer(r"<!-- ([\w-]+) -->.*?<!-- /\1 -->", old, flags=re.S):
        new = new.rstrip("\n") + "\n\n" + m.group(0) + "\n"
    card.write_text(new)


def model_card(res: dict | None = None, path: Path | None = None) -> str:
    """``baa/weights/MODEL_CARD.md`` from the results of ``run`` and the shipped files (sizes, sha256)."""
    res = res or load_results() or {}
    m = load_shipped()
    meta, r = m["meta"], m["meta"]["recipe"]
    v = res.get("variants", {}).get("randomised")
    rows = "\n".join(f"| `{f}` | {(WEIGHTS_DIR / f).stat().st_size} | `{sha256(WEIGHTS_DIR / f)}` |"
                     for f in FILES[:1])  # the film restorer's row is in its own section
    fmt = lambda s: f"MAE {s['mae']:.2f} y, r {s['r']:.2f}, bias {s['bias']:+.2f} y"
    lines = [f"| variant | real labels | rsna-dev (28 films) |", "|---|---|---|",
             "| before issue 18: cpu-profile DQ through `baa assess` (measured in the issue, not here) | none | "
             "MAE 3.31 y, r 0.61, bias +1.9 y |"]
    if res:
        b = res["baseline"]
        lines.append(f"| always the mean age of all 28 (in-sample) | 28 | MAE {b['mean_all']['mae']:.2f} y |")
        lines.append(f"| always the mean age of the other 27 (leave-one-out) | 27 | MAE {b['mean_loo']['mae']:.2f} y |")
        for name, vv in res["variants"].items():
            lines.append(f"| {name}, zero-shot | none | {fmt(vv['zero_shot'])} |")
            if "adabn" in vv:
                lines.append(f"| {name}, zero-shot + AdaBN (statistics of the other 37 real films) | none | {fmt(vv['adabn']['zero_shot'])} |")
            for h, sc in vv["cv"].items():
                lines.append(f"| {name} + {h} | 27 (leave-one-out) | {fmt(sc)} |")
    tod = ", ".join(f"{k} {val:.1f}" for k, val in (v or {}).get("toddlers", {}).items())
    real = real_inputs(m["size"])
    if real and "toddlers" in real:  # the shipped model itself, as baa assess reads them
        t = predict(m["pipe"].regressor, real["toddlers"]["image"], batch_size=16, device="cpu", tta=TTA).numpy()
        tod += "; by the shipped model (its head included): " + ", ".join(
            f"{k} {val:.1f}" for k, val in zip(real["toddlers"]["names"], t))
    return CARD.format(files=rows, n=r["n"], size=r["size"], width=r["width"], epochs=r["epochs"], lr=r["lr"],
                       seed=r["seed"], head=meta["head"], threads=meta["threads"], torch=meta["torch"],
                       render=r.get("render_size", 128), spread=r.get("proportion_spread", 1.0),
                       table="\n".join(lines), toddlers=tod or "(not measured)", seeds=_seeds_text(v),
                       seconds=(res.get("shipped") or {}).get("seconds", "?"), against_mean=_against_mean(res, v))


def _against_mean(res: dict, v: dict | None) -> str:
    """The card's sentence on the recipe with its head against always answering the mean age (leave-one-out)."""
    runs = (v or {}).get("seeds") or []
    base = (res.get("baseline") or {}).get("mean_loo", {}).get("mae")
    if not runs or base is None:
        return "Its leave-one-out error against the mean-age baseline is measured by `python -m baa.experiments.transfer run`."
    loo = np.array([e["cv"][SHIPPED_HEAD]["mae"] for e in runs])
    m, sd = float(loo.mean()), float(loo.std(ddof=1)) if len(loo) > 1 else 0.0
    word = "below" if m + sd < base else "above" if m - sd > base else "within one SD of"
    return (f"With its head ({SHIPPED_HEAD}, leave-one-out) the recipe's MAE, {m:.2f} ± {sd:.2f} y over {len(loo)} "
            f"training{'s' if len(loo) > 1 else ''}, is {word} that of always answering the mean age of the other films "
            f"({base:.2f} y): it is not a reliable reader, and without real labels it reads real hands years too old.")


def _seeds_text(v: dict | None) -> str:
    """The card's sentence on the spread over trainings of the recipe (``run --seeds N``)."""
    runs = (v or {}).get("seeds") or []
    if len(runs) < 2:
        return "One training of the recipe was measured; `python -m baa.experiments.transfer run --seeds 9` measures the spread."
    f = lambda get: mean_sd([get(e) for e in runs])
    loo = [e["cv"][SHIPPED_HEAD]["mae"] for e in runs]
    rank = 1 + sum(m < loo[0] for m in loo[1:])
    return (f"The recipe trained on {len(runs)} seeds (`run --seeds {len(runs)}`; new phantoms and initialisation each; "
            f"mean ± SD over trainings): zero-shot MAE {f(lambda e: e['zero_shot']['mae'])} y, r {f(lambda e: e['zero_shot']['r'])}; "
            f"with AdaBN MAE {f(lambda e: e['adabn']['mae'])} y, r {f(lambda e: e['adabn']['r'])}; "
            f"{SHIPPED_HEAD} leave-one-out MAE {f(lambda e: e['cv'][SHIPPED_HEAD]['mae'])} y, r {f(lambda e: e['cv'][SHIPPED_HEAD]['r'])}. "
            f"The shipped model is the seed-{runs[0]['seed']} training; the rows above are its own figures, and its "
            f"{SHIPPED_HEAD} leave-one-out MAE ranks {rank} of {len(runs)} (1 = lowest): one draw from this spread, "
            f"not the recipe's expected error.")


CARD = """# Model card: the shipped BoNet+ (`baa/weights`)

BoNet+ (Table 1, width {width}) at {size} x {size} px, trained on appearance-randomised phantoms, their
proportions (hand width, bone width, soft tissue) scattered {spread:g}x as widely as the phantom's own
(`PhantomConfig.proportion_spread`), that went through `baa.data.prepare` and the intensity standardisation (`baa.weights.standardise_image`), with a
`{head}` head fitted on the 28 real RSNA films of `../shared/rsna-dev`. `baa.weights.load_shipped()`
returns what `baa.assess.assess.load_models` returns (pipeline `"shipped"`: `restore` is the
standardisation, `regressor` BoNet+ with its head). `baa assess` runs no ResUNet before it: the real films are
not degraded the way the paper's DQ restorer was trained for. `baa restore` runs the film-scale ResUNet of the
last section (`baa.weights.load_film_restorer()`).

## Files

| file | bytes | sha256 |
|---|---|---|
{files}

## Data

- {n} phantoms (`baa.phantom`, seed {seed}, ages uniform 0-19 y, both sexes), rendered at {render} px, their
  look randomised by `baa.phantom.appearance` (exposure, gamma, background, scatter, blur, noise, rotation,
  zoom, collimation, markers, rulers), written as 8-bit PNGs and prepared like a film.
- 28 real films with labels (`../shared/rsna-dev`: RSNA Pediatric Bone Age Challenge 2017, 1.1-15 y, mean
  9.0 y, 9 boys, 19 girls; non-commercial research use with attribution). They fit the head only.
- No Digital Hand Atlas, no other real film.

## Training command

`make weights` (= `python -m baa.experiments.transfer rebuild`): Adam, lr {lr}, cosine schedule, L_MAE,
{epochs} epochs, batch 32, the package's augmentation, fp32, {threads} threads, torch {torch}; then the
head fitted on all 28 films ({head}: `recal` = least-squares line on BoNet+'s age; the ridge heads choose
alpha by leave-one-out on the films). Deterministic: same machine and
thread count, same bytes. Measured wall time of the phantom rendering and training on the 2-core
development machine (shared with other jobs): {seconds} s.

## Measured errors (rsna-dev; `python -m baa.experiments.transfer run`, chapter 11)

{table}

The shipped head is fitted on all 28 films, so its error on them is in-sample; the leave-one-out rows above
are the honest estimate of its error on new films like these.

{seeds}

Toddler films (`../shared/real-xrays`, unlabelled, all infants/toddlers), read zero-shot by the phantom-trained
BoNet+ of the same recipe (years): {toddlers}.

Issue 18's targets are **not met**: zero-shot MAE <= 2.0 y with r >= 0.8 and toddlers under 4 y; with real
labels (cross-validated) <= 1.2 y. {against_mean}

## Known limits

- Few real films: 28 for the head, 19 of them girls; sex is not used. The leave-one-out error has a wide
  uncertainty (a few films move it by tenths of a year).
- Weakest where there are no labelled films: under 2 y and over 15 y; the head's correction is linear in
  BoNet+'s features and extrapolates poorly there. The toddler films have no labels at all.
- The phantom's anatomy is not yet the real one (tubular bones as straight rods, the thumb on a thin web,
  carpals apart, little infant soft tissue): the zero-shot reader carries that gap. The anatomy variants of
  chapter 11 (plump infants, fanned fingers, packed carpals, together, trained longer) were measured over seeds
  (`python -m baa.experiments.transfer_recipes`): the three together lowered the zero-shot bias but raised the
  leave-one-out error with the shipped head, and none ordered the films better (r), so the shipped recipe
  keeps the phantom's defaults.
- No label, but the real films' pixels: aligning BoNet+'s features with the 38 unlabelled real films during
  training (CORAL, `coral_align` in chapter 11) lowered the zero-shot MAE mostly through its bias, to about
  the mean-age baseline on films it did not align on, and lowered r and raised the leave-one-out error with
  the head; it is not shipped. Showing the network only the bones' detail (`bone_detail`) did the same.
- The real labels inside BoNet+'s own training instead of in a head on its features (`joint_x8`, `joint_x32`,
  `joint_x128` in chapter 11, four folds): no cross-validated MAE left the spread of this model's; r rose for
  `joint_x8` (three trainings), and the rise `joint_x32` showed on three trainings was gone on nine. BoNet+
  trained on the real films alone (`real_only`) read them as well as this model does. With 21 to 27 labelled
  films the phantom adds little to a reader that has labels.
- Bone maps instead of images (`bone_maps`, `bone_maps_all` in chapter 11: BoNet+ reads the maps of a
  segmenter trained on the phantoms' masks): with the bone map alone the toddler films read years younger, the
  RSNA films no better; with three maps the leave-one-out error with this head was lower on three trainings
  and within this model's spread on nine. Not shipped: `baa assess` would have to run the segmenter too.
- {size} px input: fine epiphyseal detail (capping, fusion lines) is below its resolution; a 128-px input
  (`input_128` in chapter 11) learned the phantoms better and read the real films no better.
- The preparation (`baa.data.prepare`, version 2) finds the hand inside an exposed field brighter than the
  film around it (a third of the `rsna-dev` films, the three youngest among them); before version 2 it cropped
  the field. The variants in the bullets above were measured then, and chapter 11 keeps their figures apart.
  With the hands found, the phantom-trained reader lost most of its correlation with age on `rsna-dev` (the
  zero-shot r above): with the field in the crop, the youngest films had been read young. A phantom whose
  randomised background is brighter than its hand can still have the background taken for the hand.
- Not a medical device.
"""


if __name__ == "__main__":
    write_card()
