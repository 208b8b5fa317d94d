"""The learned half of the hand check (issue 21): a ``HandClassifier`` that tells a hand radiograph
from anything else at the network's input, trained here and shipped in ``baa/weights``.

Why: the image rule of ``baa.assess.handcheck`` (a palm with 4-6 fingers and a radiograph's
intensity statistics) was set on 46 non-hands and accepts 4 of them; on 20 non-hands it was not set
on (``handcheck.heldout_negative_set``) it accepts 7 (an MR slice, two elevation maps, strokes,
Voronoi cells, a photograph of a box and a flat hand silhouette). A geometric rule cannot see what a
radiograph is; a CNN can learn it, from data this package can make offline.

What it learns from (``Recipe``; no image of ``negative_set`` or ``heldout_negative_set``, so both
measure it out of sample):

- **hands**: ``n`` phantoms of sizes 64-256, half as rendered and half with their look randomised
  (``baa.phantom.appearance``), and the real films of ``../shared`` (the 28 rsna-dev and the 10
  real-xrays), each repeated so that they make ``real_share`` (a quarter) of the hands;
- **non-hands**, ``n`` of them, drawn with the seed from eight families: a phantom's hand silhouette
  filled flat, a phantom with its hand painted out, a phantom cut in 16 tiles and shuffled,
  multi-scale noise, random ellipses, Voronoi cells on a gradient, periodic textures (gratings,
  bricks, grids), and dead leaves (occluding discs of power-law sizes, a model of natural
  photographs' statistics).

Every image goes through ``baa.data.prepare`` as a file does (8-bit PNG, border cut, orientation,
hand crop, 64 pixels). Training: binary cross-entropy, Adam 1e-3 (weight decay 1e-4), ``epochs``
epochs of batches of 64 with flips and an intensity jitter.

The check refuses when the probability is below ``Recipe.threshold``. Its false-refusal rate on
real films is measured by ``folds``-fold cross-validation over the 38 real films (no film is scored
by a model that saw it); the shipped model (all 38) is then measured on both non-hand sets.
``python -m baa.assess.handnet build`` does all of it, writes the file, its results and its section
of the model card. Layer: assess.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi
from tqdm.auto import tqdm

from baa.assess import handcheck as H
from baa.data.prepare import prepare_full
from baa.io import save_json
from baa.models.handnet import HandClassifier
from baa.phantom import PhantomConfig, render
from baa.phantom.appearance import randomise
from baa.weights import HAND_CLASSIFIER, HERE as WEIGHTS_DIR, sha256, write_card_section

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "artifacts" / "handnet"


@dataclass(frozen=True)
class Recipe:
    n: int = 1200  # phantom hands, and as many synthetic non-hands
    sizes: tuple = (64, 96, 128, 192, 256)  # phantom sizes, one per batch of 100 in turn
    size: int = 64  # the classifier's input side
    epochs: int = 10
    batch: int = 64
    lr: float = 1e-3
    real_share: float = 0.25  # of all hands, phantom and real, once the real films are repeated
    threshold: float = 0.5  # refuse below this mean probability: the classifier's own decision, not tuned
    folds: int = 4
    members: int = 5  # an ensemble: the mean probability of this many nets, seeds seed .. seed + members - 1
    seed: int = 0
    threads: int = 2


# -- the data --------------------------------------------------------------------------------------

FAMILIES = ("silhouette", "hand painted out", "tiles shuffled", "multi-scale noise", "ellipses", "cells", "texture",
            "dead leaves")


def synthetic_non_hand(kind: str, rng: np.random.Generator, image: np.ndarray, hand: np.ndarray) -> np.ndarray:
    """One non-hand of family ``kind`` (``FAMILIES``) at the size of ``image``, a phantom (H, W) in
    [0, 1] with its hand mask ``hand``, which the first three families start from."""
    s = image.shape[0]
    y, x = np.mgrid[:s, :s] / s
    if kind == "silhouette":
        return hand.astype(np.float64) * rng.uniform(0.4, 1) + rng.normal(0, rng.uniform(0, 0.02), hand.shape)
    if kind == "hand painted out":
        m = ndi.binary_dilation(hand, iterations=3)
        out = image.astype(np.float64).copy()
        out[m] = np.median(out[~m]) + rng.normal(0, 0.01, int(m.sum()))
        return out
    if kind == "tiles shuffled":
        t = s // 4
        a = image[: 4 * t, : 4 * t].reshape(4, t, 4, t).transpose(0, 2, 1, 3).reshape(16, t, t)[rng.permutation(16)]
        return a.reshape(4, 4, t, t).transpose(0, 2, 1, 3).reshape(4 * t, 4 * t)
    if kind == "multi-scale noise":
        return sum(ndi.gaussian_filter(rng.normal(size=(s, s)), sg * s / 128) * sg ** rng.uniform(0, 1.5) for sg in (1, 3, 8, 20))
    if kind == "ellipses":
        out = np.zeros((s, s))
        for _ in range(rng.integers(2, 15)):
            cy, cx, a, b, th = *rng.uniform(0, 1, 2), *rng.uniform(0.02, 0.3, 2), rng.uniform(0, np.pi)
            u, v = (x - cx) * np.cos(th) + (y - cy) * np.sin(th), -(x - cx) * np.sin(th) + (y - cy) * np.cos(th)
            out += rng.uniform(0.2, 1) * ((u / a) ** 2 + (v / b) ** 2 < 1)
        return ndi.gaussian_filter(out, rng.uniform(0, 2)) + rng.normal(0, rng.uniform(0, 0.1), out.shape)
    if kind == "cells":
        seeds = rng.uniform(0, 1, (int(rng.integers(5, 60)), 2))
        near = np.argmin((y[..., None] - seeds[:, 0]) ** 2 + (x[..., None] - seeds[:, 1]) ** 2, -1)
        return rng.uniform(0, 1, len(seeds))[near] + x * rng.normal() + y * rng.normal()
    if kind == "texture":
        f, th = rng.uniform(6, 60, 2), rng.uniform(0, np.pi)
        u, v = x * np.cos(th) + y * np.sin(th), -x * np.sin(th) + y * np.cos(th)
        k = int(rng.integers(3))
        if k == 0:  # a grating
            out = np.sin(u * f[0])
        elif k == 1:  # bricks: rows of blocks, every other row shifted by half a block
            row = np.floor(v * f[1] / 3)
            out = ((np.floor(u * f[0] / 3 + 0.5 * (row % 2)) + row) % 2).astype(np.float64)
        else:  # a grid of lines
            out = ((np.sin(u * f[0]) > 0.9) | (np.sin(v * f[1]) > 0.9)).astype(np.float64)
        return out + rng.normal(0, rng.uniform(0, 0.3), out.shape)
    if kind == "dead leaves":  # occluding discs of power-law sizes: the statistics of natural photographs
        out = np.full((s, s), rng.uniform())
        for _ in range(int(rng.integers(30, 150))):
            cy, cx, rad = *rng.uniform(0, 1, 2), 0.01 / rng.uniform(0.02, 1) ** 0.8
            disc = (y - cy) ** 2 + (x - cx) ** 2 < rad ** 2
            out[disc] = rng.uniform() + rng.normal(0, rng.uniform(0, 0.05), int(disc.sum()))
        return ndi.gaussian_filter(out, rng.uniform(0, 1.5))
    raise ValueError(f"unknown non-hand family {kind!r}")


def _prepared(a: np.ndarray, folder: Path, size: int) -> torch.Tensor:
    """``a`` as a file makes it to the network: an 8-bit PNG through ``prepare_full``."""
    return prepare_full(H._save_png(a, folder / "x.png"), size).tensor[0]


def synthetic(r: Recipe, progress: bool = True) -> dict:
    """``{"x": (2n, 1, S, S), "y": (2n,), "family": [...]}``: the recipe's phantom hands (label 1)
    and synthetic non-hands (label 0), prepared. Same recipe, same tensors."""
    rng = np.random.default_rng(r.seed)
    xs, ys, fam = [], [], []
    with tempfile.TemporaryDirectory() as d:
        for b, start in enumerate(tqdm(range(0, r.n, 100), desc="hand check data", disable=not progress)):
            ids = list(range(start, min(r.n, start + 100)))
            out = render(ids, seed=r.seed, config=PhantomConfig(size=r.sizes[b % len(r.sizes)]), masks=True)
            hands = out["masks"]["hand"]
            looks = randomise(out["image"], ids, seed=r.seed, hand=hands)
            for i, k in enumerate(ids):
                img = (looks if k % 2 else out["image"])[i, 0].numpy()
                kind = FAMILIES[k % len(FAMILIES)]
                non = synthetic_non_hand(kind, rng, out["image"][i, 0].numpy(), hands[i, 0].numpy().astype(bool))
                xs += [_prepared(img, Path(d), r.size), _prepared(non, Path(d), r.size)]
                ys += [1.0, 0.0]
                fam += ["phantom", kind]
    return {"x": torch.stack(xs), "y": torch.tensor(ys), "family": fam}


def prepared_files(files, size: int) -> torch.Tensor:
    """(N, 1, S, S): each file through ``prepare_full``."""
    return torch.stack([prepare_full(f, size).tensor[0] for f in files])


# -- training --------------------------------------------------------------------------------------

def train(r: Recipe, data: dict, real: torch.Tensor | None = None, progress: bool = True) -> list[HandClassifier]:
    """The ensemble: ``r.members`` nets of ``train_one``, seeds ``r.seed`` and up."""
    return [train_one(r, data, real, r.seed + j, progress) for j in range(r.members)]


def train_one(r: Recipe, data: dict, real: torch.Tensor | None, seed: int, progress: bool = True) -> HandClassifier:
    """A ``HandClassifier`` from ``synthetic``'s ``data`` and the prepared real films ``real``
    (hands). Deterministic for the same recipe, data, seed, machine and thread count."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x, y = data["x"], data["y"]
    if real is not None and len(real):
        reps = math.ceil(r.real_share / (1 - r.real_share) * float(y.sum()) / len(real))
        x, y = torch.cat([x, real.repeat(reps, 1, 1, 1)]), torch.cat([y, torch.ones(reps * len(real))])
    net = HandClassifier()
    opt = torch.optim.Adam(net.parameters(), r.lr, weight_decay=1e-4)
    net.train()
    for _ in tqdm(range(r.epochs), desc="hand classifier", disable=not progress):
        for idx in torch.randperm(len(x), generator=g).split(r.batch):
            xb = x[idx]
            if torch.rand(1, generator=g) < 0.5:
                xb = xb.flip(-1)
            n = len(xb)
            xb = xb * torch.empty(n, 1, 1, 1).uniform_(0.7, 1.3, generator=g) + torch.empty(n, 1, 1, 1).uniform_(-0.3, 0.3, generator=g)
            loss = F.binary_cross_entropy_with_logits(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@torch.inference_mode()
def probabilities(nets: list[HandClassifier], x: torch.Tensor) -> np.ndarray:
    """The ensemble's mean probability of "hand" for each image of ``x``."""
    return torch.stack([torch.sigmoid(n(x)) for n in nets]).mean(0).double().numpy()


def cross_validate(r: Recipe, data: dict, real: torch.Tensor, names: list[str], progress: bool = True) -> dict:
    """``{name: probability}`` of each real film from the model of the fold that left it out
    (``r.folds`` folds, film ``i`` in fold ``i % folds``)."""
    out = {}
    for k in tqdm(range(r.folds), desc="cross-validation", disable=not progress):
        test = np.arange(len(real)) % r.folds == k
        net = train(r, data, real[torch.from_numpy(~test)], progress=False)
        out.update(zip(np.asarray(names)[test].tolist(), probabilities(net, real[torch.from_numpy(test)]).round(4).tolist()))
    return out


def save(nets: list[HandClassifier], r: Recipe, names: list[str], seconds: float, out: Path | None = None,
         cross_validated: dict | None = None) -> dict:
    """The ensemble, its recipe, the real films it saw and their cross-validated probabilities
    (``build``; for the chapter's figure) as one file; returns its path, size, hash and ``seconds``."""
    out = Path(out or WEIGHTS_DIR / HAND_CLASSIFIER)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {"spec": nets[0].spec, "models": [{k: v.detach().cpu().clone() for k, v in n.state_dict().items()} for n in nets],
             "size": r.size, "threshold": r.threshold,
             "meta": {"recipe": asdict(r), "real_films": list(names), "cross_validated_real": dict(cross_validated or {}),
                      "threads": torch.get_num_threads(), "torch": torch.__version__}}
    torch.save(state, out)
    return {"path": str(out), "bytes": out.stat().st_size, "sha256": sha256(out), "seconds": round(seconds, 1)}


def rebuild(r: Recipe = Recipe(), out: Path | None = None, shared: Path | None = None, progress: bool = True) -> dict:
    """From scratch: the synthetic data, the real films of ``shared`` (when present), the training,
    the file. Deterministic for the same machine, thread count and files."""
    threads = torch.get_num_threads()
    torch.set_num_threads(r.threads)
    try:
        t0 = time.time()
        files = H.real_films(Path(shared or ROOT.parent / "shared"))
        data = synthetic(r, progress)
        nets = train(r, data, prepared_files(files, r.size) if files else None, progress)
        return save(nets, r, [f.name for f in files], time.time() - t0, out)
    finally:
        torch.set_num_threads(threads)


# -- measuring it ----------------------------------------------------------------------------------

def build(r: Recipe = Recipe(), shared: Path | None = None, progress: bool = True) -> dict:
    """Cross-validate on the real films, train and ship on all of them, measure the shipped model
    and the whole hand check (``handcheck.measure``) on both sets; writes ``artifacts/handnet/
    results.json`` and the model card's section. Returns the results."""
    torch.set_num_threads(r.threads)
    shared = Path(shared or ROOT.parent / "shared")
    files = H.real_films(shared)
    t0 = time.time()
    data = synthetic(r, progress)
    real = prepared_files(files, r.size) if files else None
    t_data = time.time() - t0
    cv = cross_validate(r, data, real, [f.name for f in files], progress) if files else {}
    t1 = time.time()
    nets = train(r, data, real, progress)
    shipped = save(nets, r, [f.name for f in files], t_data + time.time() - t1, cross_validated=cv)  # seconds: what `rebuild` takes
    H.hand_classifier.cache_clear()  # the file just written
    with tempfile.TemporaryDirectory() as d:
        check = H.measure(files, d, progress=progress)
    res = {"recipe": asdict(r), "shipped": shipped, "cross_validated_real": cv,
           "classifier_alone": check["hand_probability"],  # {group: {file: probability}}
           "hand_check": {k: check[k] for k in ("false_refusal_rate", "false_acceptance_rate", "n_hands", "n_negatives",
                                                "refused_hands", "accepted_negatives")},
           "hand_check_held_out": {k: check["held_out"][k] for k in ("false_refusal_rate", "false_acceptance_rate", "n_hands",
                                                                     "n_negatives", "refused_hands", "accepted_negatives")},
           "seconds": round(time.time() - t0, 1)}
    save_json(res, OUT / "results.json")
    write_card(res)
    return res


BEGIN, END = "<!-- hand-classifier -->", "<!-- /hand-classifier -->"


def card_section(res: dict) -> str:
    """The hand classifier's section of the model card, from ``build``'s results."""
    s, r, cv, alone = res["shipped"], res["recipe"], res["cross_validated_real"], res["classifier_alone"]
    t = r["threshold"]

    def below(d: dict) -> str:
        return f"{sum(v < t for v in d.values())} of {len(d)}"

    def above(d: dict) -> str:
        names = [k for k, v in d.items() if v >= t]
        return f"{len(names)} of {len(d)}" + (f" ({', '.join(names)})" if names else "")

    hc, ho = res["hand_check"], res["hand_check_held_out"]
    lowest = sorted(cv.items(), key=lambda kv: kv[1])[:3]
    return "\n".join([
        BEGIN,
        "## The hand classifier (`handnet.pt`, issue 21)",
        "",
        f"The learned half of `baa assess`'s hand check (`baa.assess.handcheck`): an ensemble of {r['members']} `HandClassifier`s",
        f"(four convolution blocks, one logit; the mean probability) on the prepared {r['size']}-pixel input. The check refuses a file whose",
        f"probability of being a hand radiograph is below {t}.",
        "",
        "| file | bytes | sha256 |",
        "|---|---|---|",
        f"| `{HAND_CLASSIFIER}` | {s['bytes']} | `{s['sha256']}` |",
        "",
        f"**Data.** {r['n']} phantoms (sizes {', '.join(map(str, r['sizes']))}; half with a randomised look), the",
        f"{len(cv)} real films of `../shared` (rsna-dev and real-xrays, repeated to {r['real_share']:.0%} of the hands) and",
        f"{r['n']} synthetic non-hands ({', '.join(FAMILIES)}). No image of the two non-hand sets below.",
        "",
        "**Command.** `python -m baa.assess.handnet build` (cross-validation, the shipped model, the measurements",
        f"and this section: {res['seconds']:.0f} s on 2 cores). Training: {r['epochs']} epochs, batch {r['batch']}, Adam {r['lr']}, seed {r['seed']}.",
        "",
        "**Measured.**",
        "",
        "| what | classifier alone | whole hand check |",
        "|---|---|---|",
        f"| real films refused ({r['folds']}-fold cross-validated for the classifier) | {below(cv)} | "
        f"{len(hc['refused_hands'])} of {hc['n_hands']} hands ({len(cv)} real, {hc['n_hands'] - len(cv)} phantoms; in sample) |",
        f"| phantoms refused (`phantom_set` of two seeds, none trained on) | {below(alone['phantoms'])} | "
        f"{len(ho['refused_hands'])} of {ho['n_hands']} |",
        f"| `handcheck.negative_set` accepted | {above(alone['non-hands (negative_set)'])} | "
        f"{len(hc['accepted_negatives'])} of {hc['n_negatives']} |",
        f"| `handcheck.heldout_negative_set` accepted | {above(alone['non-hands (held out)'])} | "
        f"{len(ho['accepted_negatives'])} of {ho['n_negatives']}" +
        (f" ({', '.join(ho['accepted_negatives'])})" if ho["accepted_negatives"] else "") + " |",
        "",
        ("The lowest cross-validated real films: " + ", ".join(f"{k} {v:.3f}" for k, v in lowest) + "." if lowest else
         "No real film was at hand (`../shared` absent): nothing is cross-validated."),
        f"**Limits:** {len(cv)} real films are all the real hands it has seen; a hospital's films that look unlike",
        "them (other collimation, a hand small in a large field) may score low: `--force` assesses anyway.",
        END,
    ])


def write_card(res: dict, card: Path = WEIGHTS_DIR / "MODEL_CARD.md") -> None:
    """Replace (or append) the hand classifier's section of the model card."""
    write_card_section(card_section(res), card)


def main(argv=None) -> int:
    """``python -m baa.assess.handnet build|rebuild|card [--shared DIR]``: ``build`` cross-validates,
    ships, measures and writes the card; ``rebuild`` only retrains the shipped file (prints its hash);
    ``card`` rewrites the card's section from ``artifacts/handnet/results.json``."""
    ap = argparse.ArgumentParser(prog="python -m baa.assess.handnet", description=main.__doc__.splitlines()[0])
    ap.add_argument("what", choices=("build", "rebuild", "card"))
    ap.add_argument("--shared", default=None)
    ap.add_argument("--out", default=None, help="rebuild: write the file here instead of baa/weights")
    a = ap.parse_args(argv)
    if a.what == "build":
        res = build(shared=a.shared)
        print(json.dumps({k: res[k] for k in ("shipped", "hand_check", "hand_check_held_out")}, indent=1))
    elif a.what == "rebuild":
        print(json.dumps(rebuild(out=a.out, shared=a.shared), indent=1))
    else:
        write_card(json.loads((OUT / "results.json").read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
