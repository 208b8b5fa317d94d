"""`baa restore` at the film's own pixel scale (issue 17): a ResUNet (section 3.3.1) trained on
patches of phantom films degraded at their full size, applied to a film in overlapping tiles, and
measured on the real films of ``../shared/rsna-dev`` against the classical restorers of
``baa.restore``.

Why patches: the paper's DQ restorer sees the whole hand at the network's input size (64-256 px),
so the Poisson noise and the 4x low resolution it learned are those of a film shrunk to that size.
``baa degrade`` degrades a film at its own pixels (an RSNA film is ~1024 px), where the noise grain
is one film pixel; the network must learn at that scale. Each training film is a phantom rendered
at ``render_size`` with its look randomised (``baa.phantom.appearance``), degraded whole by one of
the three kinds (the DQ mix) with ``baa.degrade``'s defaults, and cut into ``patch``-pixel pairs
(degraded, clean). The label (12-25 % of the film's side) is larger than a patch at film scale, so
a patch sees part of it and the tiles' blending fills it from its edges.

``FilmRecipe.real_repeats`` also trains on the ten unlabelled films of ``../shared/real-xrays`` (never
the rsna-dev films it is measured on), each degraded at its own size. Tried with 6 repeats and 8
epochs, it did not help: on rsna-dev the clean film came back at 29.5 dB (the network changes what it
should leave), the label's PSNR fell 8.8 dB and the low resolution's 13.8 dB, for +0.7 dB more on the
noise. The shipped recipe learns from phantoms only.

``FilmRecipe.hand_share`` centres that share of a noisy or low-resolution film's crops on its hand
(random crops of a film are mostly flat background). Tried at 0.75 with the shipped recipe, it did
not help either: on rsna-dev the low resolution stayed at +0.00 dB, the noise's gain fell from +8.1
to +6.4 dB and the clean film came back at 53.6 dB instead of 58.7. A ResUNet trained on the
low-resolution crops alone does learn the detail (``python -m baa.experiments.film_restore``'s
``lowres`` expert, below): the blind network, trained with L1 beside the noise and the label,
leaves a blurred film as it is.

    python -m baa.experiments.film_restore run     # train, save baa/weights/resunet_film.pt, measure
    python -m baa.experiments.film_restore lowres  # the low-resolution expert (baa restore --kind lowres)
    python -m baa.experiments.film_restore card    # its section of baa/weights/MODEL_CARD.md

`baa restore`'s default ``--kind auto`` picks between the two networks: ``baa.experiments.film_router``.

Layer: experiments.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

import baa.degrade as D
from baa.data.augment import flip_augment
from baa.io.images import read_image
from baa.models.resunet import ResUNet
from baa.models.tiles import apply_tiled
from baa.paper import KINDS
from baa.phantom import PhantomConfig, render
from baa.phantom.appearance import randomise
from baa.restore import psnr, route_film
from baa.restore import restore as classical
from baa.train import TrainConfig, Trainer
from baa.weights import (FILM_LOWRES, FILM_RESTORER, HERE as WEIGHTS_DIR, load_film_restorer, load_film_router, sha256,
                         write_card_section)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "artifacts" / "film_restore"


@dataclass(frozen=True)
class FilmRecipe:
    """The shipped film-scale restorer's training (``run``'s defaults)."""

    n_films: int = 720  # phantom films, each degraded by one kind (240 a kind)
    render_size: int = 512
    patch: int = 96  # training patch side; a multiple of 2**depth
    patches_per_film: int = 16
    width: float = 0.25
    depth: int = 4
    epochs: int = 6
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    threads: int = 2
    tile: int = 192  # the tile side at inference (fully convolutional: larger than the patch, more context)
    real_repeats: int = 0  # each real-xrays film degraded this many times by each kind (0: phantoms only; see run)
    hand_share: float = 0.0  # of a noisy or low-resolution film's crops, centred on its hand (0.75 tried: see above)
    kinds: tuple = KINDS  # film i is degraded by kinds[i % len(kinds)]: DQ's mix, or one kind for an expert


# The low-resolution expert `baa restore --kind lowres` runs: phantom films degraded by the low
# resolution only, every crop centred on the hand.
LOWRES_EXPERT = FilmRecipe(n_films=160, kinds=("lowres",), hand_share=1.0, epochs=4)


def _crops(clean: torch.Tensor, bad: torch.Tensor, box: torch.Tensor | None, n: int, p: int, g: torch.Generator,
           deg: list, cln: list, hand: torch.Tensor | None = None, hand_share: float = 0.0) -> None:
    """``n`` aligned ``p``-pixel crops of one film (1, 1, H, W) and its degraded copy; with a label
    ``box`` (its mask), half of them around it, jittered by half a patch, so that the network sees its
    edges; else, with a ``hand`` mask (H, W), ``hand_share`` of them centred on a pixel of the hand,
    where the detail is (random crops of a film are mostly its flat background)."""
    H, W = clean.shape[-2:]
    ys = torch.randint(0, H - p + 1, (n,), generator=g)
    xs = torch.randint(0, W - p + 1, (n,), generator=g)
    if box is not None and box.any():
        zy, zx = torch.nonzero(box[0, 0], as_tuple=True)
        h, cy, cx = n // 2, int(zy.float().mean()), int(zx.float().mean())
        ys[:h] = (cy - p // 2 + torch.randint(-p // 2, p // 2 + 1, (h,), generator=g)).clamp(0, H - p)
        xs[:h] = (cx - p // 2 + torch.randint(-p // 2, p // 2 + 1, (h,), generator=g)).clamp(0, W - p)
    elif hand is not None and hand.any() and hand_share > 0:
        zy, zx = torch.nonzero(hand, as_tuple=True)
        h = round(n * hand_share)
        j = torch.randint(len(zy), (h,), generator=g)
        ys[:h] = (zy[j] - p // 2).clamp(0, H - p)
        xs[:h] = (zx[j] - p // 2).clamp(0, W - p)
    for y, x in zip(ys.tolist(), xs.tolist()):
        deg.append(bad[0, :, y:y + p, x:x + p])
        cln.append(clean[0, :, y:y + p, x:x + p])


def _degrade(clean: torch.Tensor, kind: str, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``baa.degrade.degrade(clean, kind, g)`` (the same draws), and the label's mask for ``label``."""
    if kind == "label":
        return D.black_label(clean, g, return_mask=True)
    return D.degrade(clean, kind, g), None


def real_films(shared: Path) -> list[Path]:
    """The unlabelled real films the restorer also learns from: ``../shared/real-xrays`` (infants and
    toddlers; never the rsna-dev films it is measured on)."""
    return sorted((Path(shared) / "real-xrays").glob("raw-*.png"), key=lambda f: int(f.stem.split("-")[1]))


def film_pairs(r: FilmRecipe, real: list[Path] = (), progress: bool = True) -> dict:
    """``{"degraded", "clean"}`` (N, 1, patch, patch): ``patches_per_film`` aligned crops of each
    phantom film, degraded whole at ``render_size`` (film ``i`` by ``KINDS[i % 3]``); then of each
    ``real`` film (read as ``baa degrade`` reads it, at its own size), degraded ``real_repeats`` times
    by each kind. The same recipe and files give the same bytes."""
    g = torch.Generator().manual_seed(r.seed)
    cfg = PhantomConfig(size=r.render_size)
    deg, cln = [], []
    chunk = 8
    for i0 in tqdm(range(0, r.n_films, chunk), desc="phantom film patches", disable=not progress):
        idx = list(range(i0, min(r.n_films, i0 + chunk)))
        rr = render(idx, r.seed, cfg, masks=True)
        films = randomise(rr["image"], idx, r.seed, rr["masks"]["hand"])
        for k, film, hand in zip(idx, films, rr["masks"]["hand"]):
            bad, box = _degrade(film[None], r.kinds[k % len(r.kinds)], g)
            _crops(film[None], bad, box, r.patches_per_film, r.patch, g, deg, cln, hand[0], r.hand_share)
    for f in tqdm(list(real), desc="real film patches", disable=not progress):
        clean = torch.from_numpy(read_image(f, fix_polarity=False))[None, None]
        for _ in range(r.real_repeats):
            for kind in KINDS:
                bad, box = _degrade(clean, kind, g)
                _crops(clean, bad, box, r.patches_per_film, r.patch, g, deg, cln)
    return {"degraded": torch.stack(deg).contiguous(), "clean": torch.stack(cln).contiguous()}


def _pairs(batch: dict, g: torch.Generator):
    """(degraded, clean), flipped together (one draw for both)."""
    both = flip_augment(torch.cat([batch["degraded"], batch["clean"]], 1), g)
    return both[:, :1].contiguous(), both[:, 1:].contiguous()


def train(r: FilmRecipe, real: list[Path] = (), progress: bool = True) -> ResUNet:
    """A ResUNet trained with L1 (``baa.train.fit_restorer``'s default) on ``film_pairs``."""
    torch.manual_seed(r.seed)
    data = film_pairs(r, real, progress)
    net = ResUNet(width=r.width, depth=r.depth)
    cfg = TrainConfig(epochs=r.epochs, batch_size=r.batch_size, lr=r.lr, schedule="cosine", seed=r.seed,
                      device="cpu", bn_recalibration=0, progress=progress)
    Trainer(net, data, _pairs, torch.nn.functional.l1_loss, cfg,
            extra={"task": "film_restorer", "recipe": asdict(r)}).fit()
    return net.eval()


def save(net: ResUNet, r: FilmRecipe, seconds: float, out: Path | None = None, real: list[str] = ()) -> dict:
    out = Path(out or WEIGHTS_DIR / FILM_RESTORER)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {"spec": net.spec, "model": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
             "tile": r.tile, "meta": {"recipe": asdict(r), "real_films": list(real), "threads": torch.get_num_threads(), "torch": torch.__version__}}
    torch.save(state, out)
    return {"path": str(out), "bytes": out.stat().st_size, "sha256": sha256(out), "seconds": round(seconds, 1)}


def rebuild(r: FilmRecipe = FilmRecipe(), out: Path | None = None, shared: Path | None = None,
            progress: bool = True) -> dict:
    """From scratch: the patches (phantoms, and the real-xrays films of ``shared`` when
    ``r.real_repeats`` and they are present), the training, the file. Deterministic for the same
    machine, thread count and files."""
    torch.set_num_threads(r.threads)
    t0 = time.time()
    real = real_films(Path(shared or ROOT.parent / "shared")) if r.real_repeats else []
    net = train(r, real, progress=progress)
    return save(net, r, time.time() - t0, out, [f.name for f in real])


# -- measuring it on real films -------------------------------------------------------------------

CLASSICAL = {"noise": ("anscombe_wavelet", "anscombe_nlm"), "label": ("biharmonic",), "lowres": ("lanczos",)}


def rsna_films(shared: Path) -> list[Path]:
    rows = list(csv.DictReader(open(shared / "rsna-dev" / "boneage-training-dataset.csv")))
    return [shared / "rsna-dev" / "boneage-training-dataset" / f"{r['id']}.png" for r in rows]


def _db(v: float) -> float | None:
    """A PSNR for JSON: None where the images are identical (infinite)."""
    return None if math.isinf(v) else round(v, 3)


def _mean(vals: list) -> float | None:
    """The mean of the finite PSNRs (None: identical on every film)."""
    v = [x for x in vals if x is not None]
    return round(float(np.mean(v)), 3) if v else None


@torch.inference_mode()
def measure(files: list[Path], net: torch.nn.Module, tile: int, seed: int = 0, classical_methods=CLASSICAL,
            progress: bool = True, kinds: tuple = KINDS) -> dict:
    """PSNR (dB) against the clean film of each file degraded as ``baa degrade`` does (kind, seed
    ``seed``) and restored: ``degraded`` (no restoration), ``resunet_film`` (``net`` in tiles at
    the film's scale, as ``baa restore``), and each classical method. For the label also inside
    its true box (``label_box``) and outside it (``label_outside``), and ``high``: the clean film
    through the network (what it changes where there is nothing to restore). Returns ``{"films": {name: {kind: {method: dB}}}, "mean": {kind:
    {method: dB}}, "gain": {kind: {method: mean dB over degraded}}, "n"}``."""
    films = {}
    for f in tqdm(files, desc="real films", disable=not progress):
        clean = torch.from_numpy(read_image(f, fix_polarity=False))[None, None]
        row = {"high": {"resunet_film": round(psnr(apply_tiled(net, clean, tile).clamp(0, 1), clean), 3)}}
        for kind in kinds:
            bad, box = _degrade(clean, kind, torch.Generator().manual_seed(seed))  # = D.degrade(clean, kind, seed)
            out = {"degraded": bad, "resunet_film": apply_tiled(net, bad, tile).clamp(0, 1)}
            for m in classical_methods.get(kind, ()):
                out[m] = classical(bad, kind, m)
            row[kind] = {m: round(psnr(o, clean), 3) for m, o in out.items()}
            if box is not None:  # the label's true box; the restorers find it themselves
                row["label_box"] = {m: round(psnr(o, clean, mask=box), 3) for m, o in out.items()}
                row["label_outside"] = {m: _db(psnr(o, clean, mask=~box)) for m, o in out.items() if m != "degraded"}
        films[f.name] = row
    kinds = list(next(iter(films.values())))
    mean = {k: {m: _mean([films[f][k][m] for f in films]) for m in films[next(iter(films))][k]} for k in kinds}
    gain = {k: {m: round(v - mean[k]["degraded"], 3) for m, v in mean[k].items() if m != "degraded"}
            for k in kinds if "degraded" in mean[k]}
    return {"films": films, "mean": mean, "gain": gain, "n": len(films), "seed": seed, "tile": tile}


def phantom_film(path, size: int = 512, seed: int = 0) -> Path:
    """A phantom film with a randomised look (``baa.phantom.appearance``) written as an 8-bit PNG:
    what the chapter shows when ``../shared`` is absent."""
    from PIL import Image

    r = render([seed], seed=seed, config=PhantomConfig(size=size), masks=True)
    img = randomise(r["image"], [seed], seed, r["masks"]["hand"])[0, 0].numpy()
    Image.fromarray((img * 255).round().astype(np.uint8)).save(path)
    return Path(path)


def routed_restore(bad: torch.Tensor, nets: dict, router: dict) -> tuple[torch.Tensor, dict]:
    """A degraded film (1, 1, H, W) restored as ``baa restore --kind auto`` does: routed
    (``baa.restore.route_film``) to ``nets[kind]`` (``load_film_restorer``'s dicts for ``"any"`` and
    ``"lowres"``), run in tiles. Returns (restored film in [0, 1], route)."""
    r = route_film(bad[0, 0], router)
    return apply_tiled(nets[r["kind"]]["net"], bad, nets[r["kind"]]["tile"]).clamp(0, 1), r


@torch.inference_mode()
def demo(film, seed: int = 0) -> dict:
    """One film (a path) through ``baa degrade`` and ``baa restore`` as it runs by default (``--kind
    auto``: the shipped router picks the blind restorer or the low-resolution expert), for a figure:
    ``{"clean", kind: {"degraded", "restored", "routed", "psnr_degraded", "psnr_restored"}}`` (images
    (H, W) at the film's own size); where the router chose the expert, also the blind restorer's
    output (``"blind"``, ``"psnr_blind"``), which leaves the blur."""
    nets, router = {k: load_film_restorer(kind=k) for k in ("any", "lowres")}, load_film_router()
    clean = torch.from_numpy(read_image(film, fix_polarity=False))[None, None]
    out = {"clean": clean[0, 0].numpy()}
    for kind in KINDS:
        bad = D.degrade(clean, kind, seed)
        fixed, r = routed_restore(bad, nets, router)
        out[kind] = {"degraded": bad[0, 0].numpy(), "restored": fixed[0, 0].numpy(), "routed": r,
                     "psnr_degraded": psnr(bad, clean), "psnr_restored": psnr(fixed, clean)}
        if r["kind"] != "any":
            blind = apply_tiled(nets["any"]["net"], bad, nets["any"]["tile"]).clamp(0, 1)
            out[kind].update(blind=blind[0, 0].numpy(), psnr_blind=psnr(blind, clean))
    return out


def load_results(path: Path = OUT / "results.json") -> dict | None:
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


def results_markdown(res: dict | None) -> str:
    """The measured table (``run``'s results on rsna-dev) as Markdown, or how to produce it."""
    if not res or "rsna_dev" not in res:  # the figures the model card recorded when the shipped file was built
        card = (WEIGHTS_DIR / "MODEL_CARD.md").read_text()
        sec = card[card.index(BEGIN):card.index(END)] if BEGIN in card else ""
        lines = sec.splitlines()
        start = next((i for i, ln in enumerate(lines) if ln.startswith("| degradation")), len(lines))
        table = [ln for ln in lines[start:] if ln.startswith("|")]
        return ("Not measured in this run (`python -m baa.experiments.film_restore run` measures it again, with "
                "`../shared/rsna-dev`); the figures the model card (`baa/weights/MODEL_CARD.md`) "
                "recorded when the shipped restorer was built, on the 28 real RSNA films of `../shared/rsna-dev` at their "
                "own size (mean PSNR against the clean film):\n\n" + "\n".join(table))
    mean, n = res["rsna_dev"]["mean"], res["rsna_dev"]["n"]
    ex = res.get("lowres_expert")
    rows = ["| degradation | restorer | PSNR (dB) | gain (dB) |", "|---|---|---|---|"] + _rows(mean, ex["rsna_dev"]["mean"] if ex else None)
    return (f"Measured on the {n} real RSNA films of `../shared/rsna-dev` at their own size (`python -m "
            f"baa.experiments.film_restore run`): mean PSNR against the clean film.\n\n" + "\n".join(rows))


def run(r: FilmRecipe = FilmRecipe(), shared: Path | None = None, out: Path = OUT / "results.json") -> dict:
    """Rebuild the shipped restorer and measure it on rsna-dev; writes ``out``."""
    shared = Path(shared or ROOT.parent / "shared")
    res = {"shipped": rebuild(r, shared=shared)}
    m = load_film_restorer()
    res["rsna_dev"] = measure(rsna_films(shared), m["net"], m["tile"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    return res


def run_lowres(shared: Path | None = None, out: Path = OUT / "results.json") -> dict:
    """Rebuild the low-resolution expert (``LOWRES_EXPERT``, ``baa/weights/`` ``FILM_LOWRES``), measure
    it on rsna-dev's low-resolution films, and add both to ``out`` as ``"lowres_expert"``."""
    shared = Path(shared or ROOT.parent / "shared")
    ex = {"shipped": rebuild(LOWRES_EXPERT, WEIGHTS_DIR / FILM_LOWRES, shared)}
    m = load_film_restorer(kind="lowres")
    ex["rsna_dev"] = measure(rsna_films(shared), m["net"], m["tile"], kinds=("lowres",))
    res = load_results(out) or {}
    res["lowres_expert"] = ex
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    return res


# -- the model card's section ---------------------------------------------------------------------

BEGIN, END = "<!-- film-restorer -->", "<!-- /film-restorer -->"
NAMES = {"degraded": "none (the degraded film)", "resunet_film": "blind ResUNet, film scale (`baa restore --kind any`)", "anscombe_wavelet": "Anscombe + wavelet",
         "anscombe_nlm": "Anscombe + non-local means", "biharmonic": "biharmonic inpainting", "lanczos": "Lanczos"}


KIND_NAMES = {"high": "none (the clean film)", "label_box": "label, inside its box",
              "label_outside": "label, outside its box"}


EXPERT = "ResUNet, low-resolution expert (`baa restore --kind lowres`)"


def _rows(mean: dict, expert: dict | None = None) -> list[str]:
    """Markdown rows ``| degradation | restorer | PSNR | gain over the degraded film |``; ``expert``:
    the low-resolution expert's ``mean``, whose rows follow the blind restorer's of the same kind."""
    rows = []
    for kind, vals in mean.items():
        vals = dict(vals)
        if expert and kind in expert:
            vals[EXPERT] = expert[kind]["resunet_film"]
        for meth, v in vals.items():
            if v is None:
                rows.append(f"| {KIND_NAMES.get(kind, kind)} | {NAMES.get(meth, meth)} | unchanged | |")
                continue
            gain = f"{v - vals['degraded']:+.2f}" if meth != "degraded" and "degraded" in vals else ""
            rows.append(f"| {KIND_NAMES.get(kind, kind)} | {NAMES.get(meth, meth)} | {v:.2f} | {gain} |")
    return rows


def card_section(res: dict) -> str:
    """The restorer's section of the model card, from ``run``'s results."""
    s, m, mean = res["shipped"], load_film_restorer(), res["rsna_dev"]["mean"]
    r, films = m["meta"]["recipe"], m["meta"].get("real_films", [])
    real = (f", and on the {len(films)} unlabelled real films of `../shared/real-xrays` at their own size, each degraded "
            f"{r['real_repeats']} times by each kind" if films else "")
    ex = res.get("lowres_expert")
    rows = _rows(mean, ex["rsna_dev"]["mean"] if ex else None)
    told = " and the low-resolution expert" if ex else ""
    expert = "" if not ex else f"""
`baa restore --kind lowres` runs a second ResUNet of the same size, an expert for the low resolution
(`LOWRES_EXPERT`: {LOWRES_EXPERT.n_films} phantom films degraded by the low resolution only, every crop centred on
the hand, {LOWRES_EXPERT.epochs} epochs; {ex['shipped']['seconds']} s; `python -m baa.experiments.film_restore lowres`):

| file | bytes | sha256 |
|---|---|---|
| `{FILM_LOWRES}` | {ex['shipped']['bytes']} | `{ex['shipped']['sha256']}` |
"""
    return f"""{BEGIN}
## The film-scale restorer (`{FILM_RESTORER}`, issue 17)

`baa restore` without `--profile` or `--checkpoint` runs this ResUNet (section 3.3.1, base 64 x width
{r['width']}, depth {r['depth']}) on the film at its own pixel scale, in overlapping {m['tile']}-px tiles.

| file | bytes | sha256 |
|---|---|---|
| `{FILM_RESTORER}` | {s['bytes']} | `{s['sha256']}` |

Trained on {r['n_films']} appearance-randomised phantom films rendered at {r['render_size']} px, each degraded whole
by one of the three kinds (`baa.degrade` defaults){real}: {r['patches_per_film']} aligned {r['patch']}-px patches a degraded film;
L1, Adam lr {r['lr']}, cosine, {r['epochs']} epochs, batch {r['batch_size']}, {m['meta']['threads']} threads,
torch {m['meta']['torch']}; {s['seconds']} s on the 2-core development machine. {"No rsna-dev film was used in training." if films else "No real film was used in training."}
Rebuild: `python -m baa.experiments.film_restore run` (deterministic on the same machine and thread count).
{expert}
PSNR (dB) against the clean film, mean over the {res['rsna_dev']['n']} real films of `../shared/rsna-dev` at their own size,
each degraded as `baa degrade` does (seed {res['rsna_dev']['seed']}); the label also inside and outside its box; "none": the
clean film through the network (what it changes where there is nothing to restore). The classical restorers{told} are
told the kind of degradation (as CQ's router would); the blind ResUNet is not (DQ).

| degradation | restorer | PSNR | gain |
|---|---|---|---|
{chr(10).join(rows)}
{END}"""


def write_card(res: dict, card: Path = WEIGHTS_DIR / "MODEL_CARD.md") -> None:
    """Replace (or append) the restorer's section of the model card."""
    write_card_section(card_section(res), card)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.film_restore")
    ap.add_argument("what", choices=("run", "rebuild", "measure", "card", "lowres"))
    ap.add_argument("--shared", default=None)
    ap.add_argument("--epochs", type=int, default=FilmRecipe.epochs)
    ap.add_argument("--n-films", type=int, default=FilmRecipe.n_films)
    a = ap.parse_args(argv)
    r = FilmRecipe(epochs=a.epochs, n_films=a.n_films)
    if a.what == "run":
        res = run(r, a.shared)
        write_card(res)
        print(json.dumps({"shipped": res["shipped"], "mean": res["rsna_dev"]["mean"]}, indent=1))
    elif a.what == "rebuild":
        print(json.dumps(rebuild(r), indent=1))
    elif a.what == "measure":
        shared = Path(a.shared or ROOT.parent / "shared")
        m = load_film_restorer()
        res = json.loads((OUT / "results.json").read_text()) if (OUT / "results.json").exists() else {}
        res["rsna_dev"] = measure(rsna_films(shared), m["net"], m["tile"])
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "results.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res["rsna_dev"]["mean"], indent=1))
    elif a.what == "lowres":  # the low-resolution expert: rebuilt, measured, added to the results and the card
        res = run_lowres(a.shared)
        if "rsna_dev" in res:
            write_card(res)
        print(json.dumps({"shipped": res["lowres_expert"]["shipped"], "mean": res["lowres_expert"]["rsna_dev"]["mean"]}, indent=1))
    else:
        write_card(json.loads((OUT / "results.json").read_text()))


if __name__ == "__main__":
    main()
