"""From phantom to real radiographs (issue 18, chapter 11): zero-shot evaluation of phantom-trained
BoNet+ on the real films of ``../shared``, real-label learning under leave-one-out
cross-validation, the learning curve over 0, 5, 10, 20 and all real films (the shipped model is built
from these parts by ``baa.experiments.shipped``).

Every image, phantom or film, goes through the preparation ``baa assess`` uses
(``baa.data.prepare.prepare_full``: borders, hand, orientation, crop, resize-pad) and then the
intensity standardisation of ``baa.weights.standardise_image``. Phantoms are rendered at 256 px,
their look randomised (``baa.phantom.appearance``), written as 8-bit PNGs and read back.

    python -m baa.experiments.transfer run       # the variants + learning curve -> artifacts/transfer/results.json
    python -m baa.experiments.shipped            # the shipped model -> baa/weights/bonet_real.pt  (make weights)
    python -m baa.experiments.transfer_card      # its model card, baa/weights/MODEL_CARD.md, from the results

Layer: experiments.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from baa.data.prepare import VERSION as PREPARATION, bone_detail, prepare_full
from baa.data.shared import real_files, shared_dir
from baa.experiments import versioned
from baa.models import BoneSegmenter, BoNetPlus
from baa.phantom import SPLIT_OFFSET, PhantomConfig, render
from baa.phantom.appearance import randomise
from baa.train import TrainConfig, adapt_batchnorm, fit_regressor, fit_regressor_aligned, predict
from baa.weights import CalibratedBoNet, standardise_image
from baa.weights.model import AGE_MAX, AGE_MIN

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "artifacts" / "transfer"
TTA = 16  # as baa assess


# the PhantomConfig fields a recipe sets (issue 18's anatomy; at their defaults the phantom is the book's)
ANATOMY = ("proportion_spread", "infant_anatomy", "pose_spread", "carpal_scale")


@dataclass(frozen=True)


class Recipe:
    """One phantom-trained BoNet+ reading images (``baa.experiments.shipped.SHIPPED``: the shipped model's
    recipe, which reads bone maps)."""

    n: int = 1600  # phantoms
    size: int = 64  # network input
    width: float = 0.25
    epochs: int = 6
    lr: float = 1e-3
    batch_size: int = 32
    seed: int = 0
    appearance: bool = True  # domain randomisation of the look
    standardise: bool = True  # histogram matching inside the hand mask
    render_size: int = 128
    proportion_spread: float = 3.0  # PhantomConfig.proportion_spread: proportions randomised 3x the phantom's scatter
    infant_anatomy: float = 0.0  # PhantomConfig.infant_anatomy
    pose_spread: float = 1.0  # PhantomConfig.pose_spread
    carpal_scale: float = 1.0  # PhantomConfig.carpal_scale
    align: float = 0.0  # weight of the CORAL alignment with the unlabelled real films (0: none)
    detail: float = 0.0  # sigma (px at the input) of baa.data.prepare.bone_detail applied to every image (0: none)
    maps: str = ""  # BoNet+ reads these bone maps (comma-separated BoneSegmenter.MAP_NAMES or DERIVED; '': the image)
    seg_loss: str = "bce"  # the segmenter's loss, with maps (baa.train.SEGMENTER_LOSSES)
    seg_blur: float = 0.0  # the segmenter's blur augmentation, largest sigma in px (baa.train.segmenter_batches; 0: none)
    seg_zoom: float = 0.0  # the segmenter's warp of images with masks, smallest zoom (segmenter_batches; 0: none)
    map_jitter: float = 0.0  # BoNet+ reading maps: share of maps eroded or dilated in training (baa.data.morphology_augment)
    map_dilate: float = 0.5  # of those, the share dilated (the rest eroded)
    map_radius: int = 1  # of those, each by 1 .. map_radius pixels
    epiphysis_mask: str = "growth"  # the segmenter's epiphysis target (baa.experiments.bone_maps.EPIPHYSIS_MASKS)
    threads: int = 2

    def phantoms(self) -> dict:
        """``phantom_inputs``'s arguments for this recipe's phantoms (beyond n, size and seed)."""
        return dict(appearance=self.appearance, render_size=self.render_size, masks=bool(self.maps),
                    **{f: getattr(self, f) for f in ANATOMY})

    def view(self, d: dict) -> torch.Tensor:
        """What the network reads of a set of images ``d`` (``phantom_inputs``, ``real_inputs``' parts): the
        standardised or the raw images, reduced to their detail where ``detail`` > 0; with ``maps``, the bone
        maps ``baa.experiments.bone_maps.with_maps`` added to ``d``."""
        if self.maps:
            if "maps" not in d:
                raise KeyError("this recipe reads bone maps: add them with baa.experiments.bone_maps.with_maps")
            return d["maps"]
        x = d["image"] if self.standardise else d["raw"]
        return bone_detail(x, self.detail) if self.detail else x


# -- preparation ---------------------------------------------------------------------------------


def _init_worker():
    torch.set_num_threads(1)


def _prep(args) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    path, size, comps = args
    p = prepare_full(path, size, companion=comps)
    t = p.tensor[0, 0].numpy()
    return t, standardise_image(t), None if comps is None else p.companion[0].numpy(), bool(p.info["exposed_field"])


def prepare_files(paths, size: int, workers: int = 2, companions=None) -> dict:
    """The files ``paths`` as ``baa assess`` prepares them: ``{"raw", "image" (standardised), "exposed_field"}``,
    (N,1,S,S) and (N,) bool (the hand was found inside an exposed field). With ``companions`` (one (C,H,W)
    array per file: e.g. a phantom's masks) also ``"masks"`` (N,C,S,S), moved as their images were."""
    comps = companions if companions is not None else [None] * len(paths)
    jobs = [(str(p), int(size), c) for p, c in zip(paths, comps)]
    if workers > 1 and len(jobs) > 8:
        with mp.get_context("fork").Pool(workers, initializer=_init_worker) as pool:
            res = pool.map(_prep, jobs, chunksize=8)
    else:
        res = [_prep(j) for j in jobs]
    out = {"raw": torch.from_numpy(np.stack([r[0] for r in res]))[:, None],
           "image": torch.from_numpy(np.stack([r[1] for r in res]))[:, None],
           "exposed_field": torch.tensor([r[3] for r in res])}
    if companions is not None:
        out["masks"] = torch.from_numpy(np.stack([r[2] for r in res]))
    return out


def phantom_inputs(n: int, size: int, seed: int = 0, start: int = 0, appearance: bool = True,
                   render_size: int = 128, workers: int = 2, chunk: int = 32, masks: bool = False, **anatomy) -> dict:
    """``n`` phantoms (indices ``start..``) rendered at ``render_size``, their look randomised
    (``appearance``), written as 8-bit PNGs, prepared like a film. Returns ``{"raw", "image"
    (standardised), "age", "male"}``, with ``masks`` also ``"masks"`` (N,3,S,S): where the bones, carpals and
    epiphyses are (``BoneSegmenter.MAP_NAMES``), moved with each image through its look and its preparation.
    ``anatomy``: ``PhantomConfig`` fields (``ANATOMY``). Deterministic: same arguments, same tensors."""
    cfg = PhantomConfig(size=render_size, **anatomy)
    ages, males, paths, comps = [], [], [], []
    with tempfile.TemporaryDirectory() as d:
        for i0 in range(start, start + n, chunk):
            idx = list(range(i0, min(start + n, i0 + chunk)))
            r = render(idx, seed, cfg, masks=appearance or masks)
            img, m = r["image"], torch.cat([r["masks"][k].float() for k in BoneSegmenter.MAP_NAMES], 1) if masks else None
            if appearance and masks:
                img, m = randomise(img, idx, seed, r["masks"]["hand"], companions=m)
            elif appearance:
                img = randomise(img, idx, seed, r["masks"]["hand"])
            for j, (k, im) in enumerate(zip(idx, img)):
                p = Path(d) / f"{k}.png"
                Image.fromarray((im[0].clamp(0, 1).numpy() * 255).round().astype(np.uint8)).save(p)
                paths.append(p)
                if masks:
                    comps.append(m[j].numpy())
            ages.append(r["label"].float())
            males.append(r["male"].float())
        prepared = prepare_files(paths, size, workers, comps if masks else None)
    out = {"raw": prepared["raw"], "image": prepared["image"], "age": torch.cat(ages), "male": torch.cat(males)}
    if masks:
        out["masks"] = prepared["masks"]
    return out


def real_inputs(size: int, workers: int = 2) -> dict | None:
    """The real films at the network's input: ``{"rsna": {"raw", "image", "exposed_field", "age", "male", "ids"},
    "toddlers": {"raw", "image", "exposed_field", "names"}}`` (``prepare_files``); None when ``../shared`` is absent."""
    files = real_files()
    if files is None:
        return None
    rows, paths, tods = files["rows"], files["rsna"], files["toddlers"]
    out = {"rsna": {**prepare_files(paths, size, workers), "ids": [r["id"] for r in rows],
                    "age": torch.tensor([float(r["boneage"]) / 12 for r in rows]),
                    "male": torch.tensor([1.0 if r["male"].strip().lower() in ("true", "1") else 0.0 for r in rows])}}
    if tods:
        out["toddlers"] = {**prepare_files(tods, size, workers), "names": [p.name for p in tods]}
    return out


def unlabelled(real: dict, r: Recipe, leave_out: torch.Tensor | None = None) -> torch.Tensor:
    """Every real film, RSNA and toddler, at the network's input as ``r`` feeds it (standardised or not):
    an aligned recipe's unlabelled target domain (``Recipe.align``; their labels are not used). ``leave_out``:
    a mask of the RSNA films to leave out of it."""
    rsna = r.view(real["rsna"]) if leave_out is None else r.view(real["rsna"])[~leave_out]
    return torch.cat([rsna] + ([r.view(real["toddlers"])] if "toddlers" in real else []))


# -- training ------------------------------------------------------------------------------------


def train_bonet(data: dict, r: Recipe, progress: bool = False, unlabelled: torch.Tensor | None = None,
                start: BoNetPlus | None = None) -> BoNetPlus:
    """BoNet+ on ``data`` (standardised or raw per ``r.standardise``), L_MAE, Adam, cosine schedule,
    the package's augmentation; deterministic for a seed and thread count. With ``r.align`` > 0, its
    features are also pulled towards those of ``unlabelled`` images (real films prepared the same way;
    ``baa.train.fit_regressor_aligned``). With ``start``, a copy of that network is trained on, not a new one
    (``start`` is left as it is)."""
    if r.map_jitter and not r.maps:
        raise ValueError("a recipe with map_jitter > 0 reads bone maps: set maps")
    torch.manual_seed(r.seed)
    model = (BoNetPlus(width=r.width, in_channels=len(r.maps.split(",")) if r.maps else 1) if start is None
             else copy.deepcopy(start).train())
    x = r.view(data)
    cfg = TrainConfig(epochs=r.epochs, batch_size=r.batch_size, lr=r.lr, schedule="cosine", seed=r.seed,
                      device="cpu", progress=progress, bn_recalibration=16)
    train = {"image": x, "age": data["age"], "male": data["male"]}
    if r.align:
        if unlabelled is None:
            raise ValueError("a recipe with align > 0 needs the unlabelled real films")
        fit_regressor_aligned(model, train, unlabelled, cfg, weight=r.align)
    else:
        fit_regressor(model, train, cfg, map_jitter=r.map_jitter, map_dilate=r.map_dilate, map_radius=r.map_radius)
    return model.eval()


# fine-tuning on real films (transfer_recipes' "maps_finetune_x32"): fixed before any fine-tuned film was scored
FINE_TUNE_EPOCHS = 5
FINE_TUNE_LR = 0.1  # of the recipe's lr


def fine_tune(model: BoNetPlus, data: dict, r: Recipe, epochs: int = FINE_TUNE_EPOCHS, progress: bool = False) -> BoNetPlus:
    """A copy of the phantom-trained ``model`` trained further on ``data`` alone (real films with their ages):
    L_MAE, Adam at ``FINE_TUNE_LR`` of ``r.lr``, cosine schedule, the recipe's augmentation and map jitter, its
    BatchNorm statistics then re-estimated on ``data`` (``train_bonet`` from ``model``). ``model`` is left as it is;
    deterministic for a seed."""
    return train_bonet(data, replace(r, epochs=epochs, lr=r.lr * FINE_TUNE_LR, align=0.0), progress, start=model)


def network_inputs(model: BoNetPlus, x: torch.Tensor, tta: int = TTA) -> tuple[np.ndarray, np.ndarray]:
    """``(features (N,F), age (N,))``: BoNet+'s pooled features and age, each the mean over ``tta`` views."""
    reg = CalibratedBoNet(model, 1)
    z = predict(_Inputs(reg), x, batch_size=16, device="cpu", tta=tta).numpy().astype(np.float64)
    return z[:, :-1], z[:, -1]


class _Inputs(torch.nn.Module):
    def __init__(self, reg: CalibratedBoNet):
        super().__init__()
        self.reg = reg

    def forward(self, x):
        return self.reg.inputs(x)


# -- real labels: ridge with leave-one-out alpha, linear recalibration -----------------------------

ALPHAS = tuple(10.0 ** k for k in np.arange(-1, 6.01, 0.5))


def ridge_fit(Z: np.ndarray, y: np.ndarray, alphas=ALPHAS) -> dict:
    """Ridge of ``y`` on the columns of ``Z`` (standardised on these rows), alpha chosen by the
    closed-form leave-one-out error on these rows only. Returns ``{"mean", "scale", "w", "b", "alpha"}``."""
    mu, sd = Z.mean(0), Z.std(0) + 1e-6
    X = (Z - mu) / sd
    ym = y.mean()
    yc = y - ym
    K = X @ X.T
    n = len(y)
    best = None
    for a in alphas:
        A = np.linalg.solve(K + a * np.eye(n), np.eye(n))
        H = K @ A
        H_c = H + (1 - H.sum(1, keepdims=True)) / n  # the intercept's share (approximate centring)
        e = (yc - H @ yc) / np.maximum(1 - np.diag(H_c), 1e-3)
        score = np.abs(e).mean()
        if best is None or score < best[0]:
            best = (score, a, A)
    _, a, A = best
    w = X.T @ (A @ yc)
    return {"mean": mu, "scale": sd, "w": w, "b": ym, "alpha": float(a)}


def ridge_predict(m: dict, Z: np.ndarray) -> np.ndarray:
    return ((Z - m["mean"]) / m["scale"]) @ m["w"] + m["b"]


def _fit(kind: str, F: np.ndarray, p: np.ndarray, y: np.ndarray):
    """A head of ``kind`` fitted on features ``F``, phantom ages ``p``, true ages ``y``; returns predict(F, p)."""
    if kind == "recal":  # y = a p + b (least squares)
        a, b = np.polyfit(p, y, 1) if len(y) > 1 and np.ptp(p) > 0 else (1.0, float(np.mean(y - p)))
        return lambda F2, p2: a * p2 + b
    if kind == "ridge":  # y on [features, p]
        m = ridge_fit(np.c_[F, p], y)
        return lambda F2, p2: ridge_predict(m, np.c_[F2, p2])
    if kind == "ridge_residual":  # y - p on the features: the phantom age, corrected
        m = ridge_fit(F, y - p)
        return lambda F2, p2: p2 + ridge_predict(m, F2)
    raise ValueError(kind)


HEADS = ("recal", "ridge", "ridge_residual")


def loo(kind: str, F: np.ndarray, p: np.ndarray, y: np.ndarray, n_train: int | None = None, repeats: int = 1,
        seed: int = 0) -> np.ndarray:
    """Leave-one-out predictions: film ``i`` is predicted by a head fitted on the others (or on
    ``n_train`` of them drawn at random, averaged over ``repeats`` draws). No film is scored by a
    head that saw it."""
    rng = np.random.default_rng(seed)
    n = len(y)
    out = np.zeros(n)
    for i in range(n):
        rest = np.array([j for j in range(n) if j != i])
        preds = []
        for _ in range(repeats if n_train and n_train < len(rest) else 1):
            tr = rest if not n_train or n_train >= len(rest) else rng.choice(rest, n_train, replace=False)
            preds.append(_fit(kind, F[tr], p[tr], y[tr])(F[i:i + 1], p[i:i + 1])[0])
        out[i] = float(np.mean(np.clip(preds, AGE_MIN, AGE_MAX)))  # as the shipped head clamps
    return out


def scores(pred, true) -> dict:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return {"mae": float(np.abs(pred - true).mean()), "r": float(np.corrcoef(pred, true)[0, 1]) if np.ptp(pred) > 0 else 0.0,
            "bias": float((pred - true).mean()), "rmse": float(np.sqrt(((pred - true) ** 2).mean()))}


def mean_sd(values) -> str:
    """``"mean ± SD"`` (sample SD) of one figure over trainings, as chapter 11 and the model card print it."""
    v = np.asarray(values, float)
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f} (one training)"


def mean_age_baseline(y: np.ndarray) -> dict:
    """Always answering the mean age of the other films (leave-one-out) and of all films."""
    n = len(y)
    loo_pred = (y.sum() - y) / (n - 1)
    return {"mean_all": scores(np.full(n, y.mean()), y), "mean_loo": scores(loo_pred, y)}


CURVE = (0, 5, 10, 20, 27)
PHANTOM_TEST, N_HELD_OUT = SPLIT_OFFSET["test"], 256  # held-out phantoms: indices no training uses


def evaluate(model: BoNetPlus, real: dict, r: Recipe, name: str, repeats: int = 20, phantoms: dict | None = None) -> dict:
    """Zero-shot and cross-validated scores of one phantom-trained BoNet+ on the real films, and with
    ``phantoms`` (held-out ones, ``phantom_inputs``) its score on its own domain: how well it learned
    the phantom, beside how well that transfers."""
    rs = real["rsna"]
    F, p = network_inputs(model, r.view(rs))
    y = rs["age"].numpy().astype(np.float64)
    out = {"name": name, "recipe": asdict(r), "ids": rs["ids"], "true": y.tolist(), "zero_shot_pred": p.tolist(),
           "zero_shot": scores(p, y), "cv": {}, "cv_pred": {}, "curve": {}}
    for kind in HEADS:
        q = loo(kind, F, p, y)
        out["cv"][kind], out["cv_pred"][kind] = scores(q, y), q.tolist()
        out["curve"][kind] = {str(k): scores(p, y)["mae"] if k == 0 else
                              scores(loo(kind, F, p, y, k, repeats if k < len(y) - 1 else 1, seed=k), y)["mae"]
                              for k in CURVE}
    if "toddlers" in real:
        t = real["toddlers"]
        _, pt = network_inputs(model, r.view(t))
        out["toddlers"] = dict(zip(t["names"], [round(float(v), 2) for v in pt]))
        out["toddler_max"] = float(pt.max())
    out["adabn"] = adabn_loo(model, real, r)
    if phantoms is not None:
        out["phantom"] = scores(network_inputs(model, r.view(phantoms))[1],
                                phantoms["age"].numpy().astype(np.float64))
    return out


def heldout_zero_shot(data: dict, r: Recipe, real: dict, folds: int = 2) -> dict:
    """Zero-shot on rsna-dev for an aligned recipe (``r.align`` > 0) with no film read by a network aligned
    on its pixels: ``folds`` trainings on ``data``, each aligned on the real films outside one fold (the
    other RSNA films and the toddlers) and reading that fold's films (film ``i`` is in fold ``i % folds``).
    Returns ``{"zero_shot": scores, "pred": [...]}``. ``evaluate``'s zero-shot of one network aligned on
    every film is the transductive reading; this is the one a new film would get."""
    rs = real["rsna"]
    y = rs["age"].numpy().astype(np.float64)
    fold = np.arange(len(y)) % folds
    pred = np.zeros(len(y))
    for k in range(folds):
        out = torch.from_numpy(fold == k)
        pred[fold == k] = network_inputs(train_bonet(data, r, unlabelled=unlabelled(real, r, out)), r.view(rs)[out])[1]
    return {"zero_shot": scores(pred, y), "pred": pred.tolist()}


def adabn_loo(model: BoNetPlus, real: dict, r: Recipe) -> dict:
    """Zero-shot with AdaBN (``baa.train.adapt_batchnorm``), leave-one-out: every real film, RSNA or
    toddler, is read by a copy of BoNet+ whose BatchNorm statistics come from all the *other* real films.
    No label is used, and no film's own pixels set the statistics that read it."""
    pool = unlabelled(real, r)
    pred = np.zeros(len(pool))
    for i in tqdm(range(len(pool)), desc="AdaBN, leave-one-out", leave=False):
        others = torch.cat([pool[:i], pool[i + 1:]])
        pred[i] = network_inputs(adapt_batchnorm(model, others), pool[i:i + 1])[1][0]
    n = len(real["rsna"]["age"])
    out = {"pred": pred[:n].tolist(), "zero_shot": scores(pred[:n], real["rsna"]["age"].numpy())}
    if "toddlers" in real:
        out["toddlers"] = dict(zip(real["toddlers"]["names"], [round(float(v), 2) for v in pred[n:]]))
        out["toddler_max"] = float(pred[n:].max())
    return out


SHIPPED_HEAD = "ridge_residual"  # the best leave-one-out head of `run` (chapter 11; recal is within 0.06 y)


def reevaluate(r: Recipe = Recipe(), variants=("randomised", "plain"), out: Path = OUT / "results.json") -> dict:
    """``evaluate`` again for the BoNet+ states ``run`` saved (the heads and curve only; no training)."""
    torch.set_num_threads(r.threads)
    real = real_inputs(r.size)
    res = json.loads(out.read_text())
    res["baseline"] = mean_age_baseline(real["rsna"]["age"].numpy().astype(np.float64))
    for v in variants:
        f = out.parent / f"bonet_{v}.pt"
        if not f.exists():
            continue
        rv = r if v == "randomised" else replace(r, appearance=False, standardise=False)
        model = BoNetPlus(width=rv.width)
        model.load_state_dict(torch.load(f, map_location="cpu"))
        ev = evaluate(model.eval(), real, rv, v)
        ev["seconds"] = res["variants"].get(v, {}).get("seconds")
        res["variants"][v] = ev
    out.write_text(json.dumps(res, indent=1))
    return res


def run(r: Recipe = Recipe(), variants=("randomised",), out: Path = OUT / "results.json", seeds: int = 1) -> dict:
    """The experiment: for each variant, a phantom-trained BoNet+, scored zero-shot (as trained, and
    with AdaBN) and with real labels (leave-one-out) on rsna-dev, the learning curve, the toddler
    readings. Variants: ``randomised`` (appearance randomised + standardised, the image recipe),
    ``plain`` (the phantom's own look, no standardisation). ``seeds`` > 1: the variant is trained
    again on seeds ``r.seed + 1, ...`` (new phantoms, new initialisation) and ``"seeds"`` lists every
    training's scores, so that the spread of one training's figures is measured."""
    torch.set_num_threads(r.threads)
    real = real_inputs(r.size)
    if real is None:
        raise FileNotFoundError(f"{shared_dir()}: no real films to evaluate on")
    res = versioned.begin(out, {"variants": {}})
    y = real["rsna"]["age"].numpy().astype(np.float64)
    res["baseline"] = mean_age_baseline(y)
    out.parent.mkdir(parents=True, exist_ok=True)
    for v in variants:
        rv = r if v == "randomised" else replace(r, appearance=False, standardise=False)
        t0 = time.time()
        data = cached_phantoms(rv, out.parent)
        t1 = time.time()
        model = train_bonet(data, rv, progress=True, unlabelled=unlabelled(real, rv))
        t2 = time.time()
        torch.save(model.state_dict(), out.parent / f"bonet_{v}.pt")
        held = lambda rs: cached_phantoms(replace(rs, n=N_HELD_OUT), out.parent, start=PHANTOM_TEST)
        ev = evaluate(model, real, rv, v, phantoms=held(rv))
        ev["seconds"] = {"phantoms": round(t1 - t0, 1), "train": round(t2 - t1, 1)}
        if seeds > 1:
            ev["seeds"] = [seed_scores(ev, rv.seed)] + [
                seed_scores(evaluate(train_bonet(cached_phantoms(rs, out.parent), rs, unlabelled=unlabelled(real, rs)),
                                     real, rs, v, repeats=1, phantoms=held(rs)), rs.seed)
                for rs in (replace(rv, seed=rv.seed + k) for k in range(1, seeds))]
        res["variants"][v] = ev
        out.write_text(json.dumps(res, indent=1))
        print(json.dumps({k: ev[k] for k in ("zero_shot", "cv", "curve", "toddlers", "seconds") if k in ev}, indent=1))
    return res


def cached_phantoms(rv: Recipe, folder: Path, start: int = 0) -> dict:
    """``phantom_inputs`` for a recipe (indices from ``start``), cached in ``folder`` under the arguments that make
    them and the preparation's version (``baa.data.prepare.VERSION``)."""
    cache = folder / (f"phantoms_{rv.n}_{rv.size}_{rv.seed}_{start}_{rv.render_size}_{int(rv.appearance)}_"
                      + "_".join(f"{getattr(rv, f):g}" for f in ANATOMY) + ("_masks" if rv.maps else "")
                      + f"_prep{PREPARATION}.pt")
    if cache.exists():
        return torch.load(cache)
    data = phantom_inputs(rv.n, rv.size, rv.seed, start=start, **rv.phantoms())
    torch.save(data, cache)
    return data


def seed_scores(ev: dict, seed: int) -> dict:
    """What one training scored: zero-shot, AdaBN, each head (leave-one-out), the toddlers' readings."""
    return {"seed": seed, "zero_shot": ev["zero_shot"], "adabn": ev["adabn"]["zero_shot"], "cv": ev["cv"], "phantom": ev.get("phantom"),
            "toddler_max": ev.get("toddler_max"), "adabn_toddler_max": ev["adabn"].get("toddler_max"),
            "toddlers": ev.get("toddlers")}


def heldout_mae(entry: dict) -> float:
    """A training's zero-shot MAE on films it never saw: ``heldout_zero_shot``'s for an aligned recipe,
    the plain zero-shot for any other (its training saw no real film)."""
    return entry.get("zero_shot_heldout", entry["zero_shot"])["mae"]


def load_results(path: Path = OUT / "results.json") -> dict | None:
    """``run``'s results, if measured with the current preparation."""
    return versioned.load(path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.transfer")
    ap.add_argument("what", choices=("run", "reevaluate"))
    ap.add_argument("--variants", default="randomised")
    ap.add_argument("--n", type=int, default=Recipe.n)
    ap.add_argument("--epochs", type=int, default=Recipe.epochs)
    ap.add_argument("--size", type=int, default=Recipe.size)
    ap.add_argument("--width", type=float, default=Recipe.width)
    ap.add_argument("--seed", type=int, default=Recipe.seed)
    ap.add_argument("--render-size", type=int, default=Recipe.render_size)
    ap.add_argument("--spread", type=float, default=Recipe.proportion_spread, help="PhantomConfig.proportion_spread")
    ap.add_argument("--infant", type=float, default=Recipe.infant_anatomy, help="PhantomConfig.infant_anatomy")
    ap.add_argument("--pose", type=float, default=Recipe.pose_spread, help="PhantomConfig.pose_spread")
    ap.add_argument("--carpals", type=float, default=Recipe.carpal_scale, help="PhantomConfig.carpal_scale")
    ap.add_argument("--align", type=float, default=Recipe.align,
                    help="CORAL weight towards the unlabelled real films (0: none)")
    ap.add_argument("--seeds", type=int, default=1, help="run: train each variant on this many seeds (the spread)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    r = Recipe(n=a.n, epochs=a.epochs, size=a.size, width=a.width, seed=a.seed, render_size=a.render_size,
               proportion_spread=a.spread, infant_anatomy=a.infant, pose_spread=a.pose, carpal_scale=a.carpals,
               align=a.align)
    if a.what == "run":
        run(r, tuple(a.variants.split(",")), Path(a.out) if a.out else OUT / "results.json", seeds=a.seeds)
    else:
        reevaluate(r, tuple(a.variants.split(",")))


if __name__ == "__main__":
    main()
