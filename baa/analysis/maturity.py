"""The phantom as data (chapter 1): its maturity against its own timetable, the noise of its two
readings, how hard it is, the training set and its folds, and the RSNA-layout round trip.

The timetable is the phantom's (``baa.phantom.EVENTS``: ages of appearance and fusion, girls and
boys, from the published references cited in ``baa.phantom.anatomy``); nothing here re-types it.
What is measured is what the renderer makes of it: every subject runs on its own clock, scattered
around the timetable, so the age at which half the rendered subjects show a centre need not be the
timetable's age.

Layer: analysis.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from baa import paper
from baa.data.load import load
from baa.data.splits import kfold_splits
from baa.experiments.artifacts import artifacts_root
from baa.phantom import CARPAL_NAMES, CENTRES, EVENTS, PhantomConfig, maturity_state, render

# Published ranges of physeal fusion (years; girls, boys), Greulich-Pyle and the Tanner-Whitehouse
# literature (``../shared/reference/skeletal-maturation.md``): the hand's short bones, the distal
# radius and ulna. Drawn beside the phantom's fusion progress; the phantom's own fusion ages are
# ``EVENTS["fuse"]``.
REFERENCE_FUSION = {"hand": ((12.0, 18.0), (16.0, 18.0)), "radius": ((16.0, 18.0), (16.0, 18.0)),
                    "ulna": ((17.0, 20.0), (17.0, 20.0))}
# Groups of epiphyses whose mean fusion progress chapter 1 draws.
FUSION_GROUPS = {"distal phalanges": [f"dp{i}" for i in range(1, 6)], "metacarpals": [f"mc{i}" for i in range(1, 6)],
                 "middle phalanges": [f"mp{i}" for i in range(2, 6)], "ulna": ["ulna"], "radius": ["radius"]}
SEXES = (("girls", False), ("boys", True))


def timetable(event: str = "app", names=CARPAL_NAMES) -> pd.DataFrame:
    """The phantom's timetable for ``names``: ``event`` ``"app"`` (appearance) or ``"fuse"``
    (fusion) age in years, one column per sex."""
    idx = [CENTRES.index(n) for n in names]
    t = np.round(EVENTS[event][idx].numpy().astype(float), 2)
    return pd.DataFrame({"girls": t[:, 0], "boys": t[:, 1]}, index=pd.Index(list(names), name="centre"))


def population(n: int = 600, seed: int = 1) -> dict:
    """``n`` rendered subjects, bone ages uniform on 0-19 years, as 16 x 16 images (only the
    labels and the maturity state count): the fields of ``baa.phantom.render``."""
    return render(torch.arange(n), seed=seed, config=PhantomConfig(size=16))


def half_age(age, flag) -> float:
    """The age threshold that best separates subjects without (younger) and with (older) a
    feature: where the share of subjects with it crosses one half."""
    o = np.argsort(age)
    a, f = np.asarray(age)[o], np.asarray(flag)[o].astype(int)
    errors = np.concatenate([[0], np.cumsum(f)]) + np.concatenate([np.cumsum((1 - f)[::-1])[::-1], [0]])
    k = int(errors.argmin())
    return float(a[0] if k == 0 else a[-1] if k == len(a) else 0.5 * (a[k - 1] + a[k]))


def carpal_appearance(pop: dict) -> pd.DataFrame:
    """Per carpal bone and sex: the timetable's age of appearance and the age at which half the
    rendered subjects of ``pop`` (``population``) show it, and their difference (years)."""
    names = list(pop["maturity"]["names"])
    ba, male = pop["bone_age"].numpy(), pop["male"].numpy().astype(bool)
    present = pop["maturity"]["present"].numpy().astype(bool)
    table = timetable("app")
    rows = {}
    for bone in CARPAL_NAMES:
        j = names.index(bone)
        for sex, m in SEXES:
            sel = male == m
            rows[(bone, sex)] = {"timetable (y)": float(table.loc[bone, sex]),
                                 "rendered (y)": round(half_age(ba[sel], present[sel, j]), 2)}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index = pd.MultiIndex.from_tuples(df.index, names=["carpal", "sex"])
    df["difference (y)"] = (df["rendered (y)"] - df["timetable (y)"]).round(2)
    return df


def binned_share(age, values, edges) -> np.ndarray:
    """Mean of ``values`` (rows: subjects) in each age bin of ``edges``; NaN in empty bins."""
    which = np.digitize(age, edges) - 1
    return np.array([np.asarray(values)[which == b].mean() if (which == b).any() else np.nan
                     for b in range(len(edges) - 1)])


def schedule(male: bool, step: float = 0.05, last: float = 21.0) -> pd.DataFrame:
    """The population schedule (no individual scatter) of every centre for one sex: the age it
    appears, the age its fusion starts and the age it is fused (NaN: never in 0-``last`` years)."""
    axis = torch.arange(0, last, step)
    st = maturity_state(axis, torch.full_like(axis, float(male)))
    rows = {}
    for j, name in enumerate(st["names"]):
        first = lambda flags: float(axis[flags.numpy().argmax()]) if flags.any() else np.nan  # noqa: E731
        rows[name] = {"appears": first(st["present"][:, j]), "fusion starts": first(st["fusion"][:, j] > 0),
                      "fused": first(st["fusion"][:, j] >= 1)}
    return pd.DataFrame.from_dict(rows, orient="index")


def reading_noise(subjects: dict) -> dict:
    """How noisy the label is (``baa.phantom.sample_subjects``'s output): the mean absolute
    difference between the two readings, of one reading and of their mean (the label) from the true
    bone age, and the SD of bone age minus chronological age (years, 3 decimals)."""
    ba, r = subjects["bone_age"].numpy(), subjects["readings"].numpy()
    label, ca = subjects["label"].numpy(), subjects["chrono_age"].numpy()
    if not np.allclose(label, r.mean(1), atol=1e-5):
        raise ValueError("the label is not the mean of the two readings")
    out = {"subjects": len(ba), "between readings": np.abs(r[:, 0] - r[:, 1]).mean(),
           "one reading vs truth": np.abs(r[:, 0] - ba).mean(), "label vs truth": np.abs(label - ba).mean(),
           "SD of bone age - chronological age": np.std(ba - ca)}
    return {k: v if k == "subjects" else round(float(v), 3) for k, v in out.items()}


def reading_noise_text(noise: dict) -> str:
    return (f"Over {noise['subjects']} phantom subjects: mean absolute difference between the two readings "
            f"**{noise['between readings']:.2f} y**; one reading is off the truth by {noise['one reading vs truth']:.2f} y, "
            f"their mean (the label) by **{noise['label vs truth']:.2f} y**. That is what even a model that knew the true "
            f"bone age would score, to keep in mind beside the paper's best MAE of {paper.TABLE2['mae']['mae'][0]} y on "
            f"the DHA (whose readers' scatter is not published). Bone age minus chronological age: SD "
            f"{noise['SD of bone age - chronological age']:.2f} y.")


def appearance_text(appear: pd.DataFrame, n: int, seed: int) -> str:
    worst = appear["difference (y)"].abs().idxmax()
    return (f"Data: {n} rendered phantom subjects (seed {seed}), bone ages uniform on 0-19 years. Largest gap between "
            f"the rendered subjects and the timetable: {appear.loc[worst, 'difference (y)']:+.2f} y ({worst[0]}, "
            f"{worst[1]}); mean absolute gap {appear['difference (y)'].abs().mean():.2f} y.")


def training_set_text(data) -> str:
    age, male = data.age.numpy(), data.male.numpy()
    return (f"{len(data)} images of {data.images.shape[-1]}x{data.images.shape[-1]} pixels, {int((male == 1).sum())} "
            f"boys and {int((male == 0).sum())} girls, labels {age.min():.2f}-{age.max():.2f} years (mean {age.mean():.2f}).")


def fold_table(data, k: int, seed: int) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """``kfold_splits`` of ``data`` checked (the folds partition the images, sizes differ by at
    most one, no image in both halves of a split) and summarised: one row per validation fold."""
    folds = kfold_splits(data.age, k=k, seed=seed)
    val = [v for _, v in folds]
    if not np.array_equal(np.sort(np.concatenate(val)), np.arange(len(data))):
        raise AssertionError("the folds do not partition the images")
    if max(map(len, val)) - min(map(len, val)) > 1 or any(np.intersect1d(tr, v).size for tr, v in folds):
        raise AssertionError("unbalanced or overlapping folds")
    age, male = data.age.numpy(), data.male.numpy()
    df = pd.DataFrame([{"fold": f + 1, "validation images": len(v), "mean age": age[v].mean(), "min": age[v].min(),
                        "max": age[v].max(), "boys": int(male[v].sum())} for f, v in enumerate(val)]).round(2)
    return df.set_index("fold"), val


def round_trip(folder: str | Path, size: int, seed: int) -> dict:
    """Read back a phantom set written by ``write_rsna(folder, ..., seed=seed)`` and compare each
    image with a fresh render of the same subject: ``data`` (read with the polarity check),
    ``corr_raw`` / ``corr`` (correlation with the render, without / with the polarity check),
    ``flipped`` (ids judged inverted), ``months`` (the CSV's bone ages, which must be the ages read
    back times 12)."""
    folder = Path(folder)
    data = load(folder, "rsna", size=size, progress=False)
    raw = load(folder, "rsna", size=size, progress=False, fix_polarity=False)
    truth = render(torch.tensor([int(i) - 1 for i in data.ids]), seed=seed, size=size)["image"]  # id = index + 1

    def corr(images):
        return [float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1]) for a, b in zip(images, truth)]

    months = pd.read_csv(folder / "boneage-training-dataset.csv")["boneage"].to_numpy(dtype=float)
    if not np.allclose(data.age.numpy(), months / 12, atol=1e-4):
        raise AssertionError("the ages read back are not the CSV's months / 12")
    c = corr(data.images)
    return {"data": data, "corr_raw": corr(raw.images), "corr": c, "months": months,
            "flipped": [i for i, v in zip(data.ids, c) if v < 0]}


def round_trip_text(rt: dict) -> str:
    flipped, n = rt["flipped"], len(rt["data"])
    text = (f"Without the polarity check the images come back as written (correlation with a fresh render at least "
            f"{min(rt['corr_raw']):.4f}; `read_image` stretches 8-bit data to [0, 1]). With it (the default), "
            f"{len(flipped)} of {n} images were judged inverted and flipped")
    if not flipped:
        return text + "."
    return text + (f" (ids {', '.join(flipped)}): `detect_inverted` compares the border with the centre, and the phantom's "
                   "bright collimation borders (unexposed film) make the border look brighter than the hand. Real films "
                   "with wide collimation borders can be misjudged the same way; pass `fix_polarity=False` for data of "
                   "known polarity.")


def calibration_runs(folder: str | Path | None = None) -> list[dict]:
    """The ``cnn`` entries of ``python -m baa.experiments.calibrate``'s JSON files in ``folder``
    (default ``artifacts/calibration``)."""
    folder = Path(folder) if folder is not None else artifacts_root() / "calibration"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [c for f in files if (c := json.loads(f.read_text()).get("cnn"))]


def calibration_table(floor: dict, linear: float, runs: list[dict]) -> pd.DataFrame:
    """How hard the phantom is: MAE against the label of a perfect stage reader, a linear model
    and every BoNet+ of ``runs`` (``calibration_runs``)."""
    rows = [{"method": "perfect stage reader (true stages + sex, MLP)", "MAE (y)": floor["mae_label"]},
            {"method": "linear model on 32x32 thumbnails (ridge)", "MAE (y)": linear}]
    rows += [{"method": f"BoNet+ {c['size']}x{c['size']}, width {c['width']}, {c['n_train']} images, {c['epochs']} "
                        f"epochs (trained on {c['device']})", "MAE (y)": c["mae_label"]} for c in runs]
    return pd.DataFrame(rows).round(3)


def calibration_text(floor: dict, linear: float, runs: list[dict], profile: str) -> str:
    best_paper = paper.TABLE2["mae"]["mae"][0]
    text = (f"A reader who saw every centre's stage exactly would still be off by **{floor['mae_label']:.2f} y** "
            f"({floor['mae_bone_age']:.2f} y against the true bone age): below the paper's best {best_paper} y, so a "
            f"strong enough network can land in the paper's range; the linear model scores **{linear:.2f} y**. ")
    if runs:
        big = max(runs, key=lambda c: (c["size"] * c["width"], c["epochs"]))
        where = "inside" if 0.6 <= big["mae_label"] <= 0.9 else ("above" if big["mae_label"] > 0.9 else "below")
        text += (f"The largest BoNet+ measured here ({big['size']}², width {big['width']}) scores "
                 f"**{big['mae_label']:.2f} y**, {where} the paper's range. ")
    return text + (f"The paper's own setting (256², full width, 150 epochs) needs a GPU; chapter 3 shows how far the "
                   f"{profile} profile gets.")

