"""The router of `baa restore` (issue 17): which film goes to the low-resolution expert.

The blind film-scale ResUNet (``film_restore``) leaves a 4x low-resolution film as it is; its
expert restores the detail but must be told the kind. ``--kind auto`` (the default) decides by
one number, ``baa.restore.detail_ratio_db``: the share of a film's detail in its finest band, far
lower for a low-resolution film than for a clean, noisy or labelled one whatever its exposure. CQ's
idea at the film's scale, with a classifier that needs no training: a threshold calibrated on
phantom films (``calibrate_router``, shipped as ``baa/weights/film_router.json``) and measured on
the real films of ``../shared/rsna-dev`` (``measure_router``).

    python -m baa.experiments.film_router   # calibrate, write baa/weights/film_router.json, measure, card

Layer: experiments.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

import baa.degrade as D
from baa.experiments.film_restore import OUT, ROOT, _db, load_results, routed_restore, rsna_films
from baa.io.images import read_image
from baa.paper import KINDS
from baa.phantom import PhantomConfig, render
from baa.phantom.appearance import randomise
from baa.restore import detail_ratio_db, psnr, separating_threshold
from baa.weights import FILM_ROUTER, HERE as WEIGHTS_DIR, load_film_restorer, load_film_router, write_card_section

ROUTER_BEGIN, ROUTER_END = "<!-- film-router -->", "<!-- /film-router -->"

ROUTER_FILMS = 48  # phantom films the threshold is calibrated on, each in all four qualities


@torch.inference_mode()
def router_scores(films: list[torch.Tensor], seed: int = 0) -> dict:
    """``detail_ratio_db`` of each film (1, 1, H, W) clean (``high``) and degraded by each kind as
    ``baa degrade`` does (film ``i`` with seed ``seed + i``): ``{kind: [dB per film]}``."""
    out = {"high": [float(detail_ratio_db(f)[0]) for f in films]}
    for kind in KINDS:
        out[kind] = [float(detail_ratio_db(D.degrade(f, kind, seed + i))[0]) for i, f in enumerate(films)]
    return out


def calibrate_router(n_films: int = ROUTER_FILMS, size: int = 512, seed: int = 0, progress: bool = True) -> dict:
    """The router's threshold from ``n_films`` appearance-randomised phantom films rendered at ``size``
    px (indices above every training film's), each cropped to a random height and width between 3/4
    of ``size`` and ``size``: a real film's sides are seldom multiples of 4, and a 4x low resolution of
    such a film keeps more of its finest band (rsna-dev's 758-px-wide films score ~3 dB above its
    788-px ones). ``separating_threshold`` of the low-resolution films' scores against the clean,
    noisy and labelled ones'. Returns the router (``load_film_router``'s keys)."""
    scores = {k: [] for k in ("high", *KINDS)}
    g = torch.Generator().manual_seed(seed)
    idx = list(range(10_000, 10_000 + n_films))
    for i0 in tqdm(range(0, n_films, 8), desc="router films", disable=not progress):
        chunk = idx[i0:i0 + 8]
        rr = render(chunk, seed, PhantomConfig(size=size), masks=True)
        films = []
        for f in randomise(rr["image"], chunk, seed, rr["masks"]["hand"]):
            h, w = torch.randint(3 * size // 4, size + 1, (2,), generator=g).tolist()
            y, x = torch.randint(0, size - h + 1, (1,), generator=g).item(), torch.randint(0, size - w + 1, (1,), generator=g).item()
            films.append(f[None, :, y:y + h, x:x + w].contiguous())
        for k, v in router_scores(films, seed + i0).items():
            scores[k] += v
    low = np.array(scores["lowres"])
    rest = np.concatenate([scores[k] for k in scores if k != "lowres"])
    t = separating_threshold(low, rest)
    return {"threshold_db": round(t, 3), "factor": D.LOWRES_FACTOR, "coarse": 4,
            "phantom": {"n_films": n_films, "size": size, "seed": seed,
                        "range_db": {k: [round(min(v), 3), round(max(v), 3)] for k, v in scores.items()},
                        "errors": int((low >= t).sum() + (rest < t).sum())},
            "command": "python -m baa.experiments.film_router"}


@torch.inference_mode()
def measure_router(files: list[Path], router: dict, seed: int = 0, progress: bool = True) -> dict:
    """The router on real films: each file clean and degraded by each kind (``baa degrade``, seed
    ``seed``), routed, and restored by the network it chose. ``{"accuracy": {kind: share routed
    right}, "gain": {kind: mean dB over the degraded film}, "range_db": {kind: [min, max]}, "films":
    {name: {kind: {"detail_ratio_db", "routed", "psnr", "psnr_degraded"}}}, "n"}``; right: the expert for ``lowres``,
    the blind network for the rest."""
    nets = {k: load_film_restorer(kind=k) for k in ("any", "lowres")}
    films = {}
    for f in tqdm(files, desc="routing real films", disable=not progress):
        clean = torch.from_numpy(read_image(f, fix_polarity=False))[None, None]
        row = {}
        for kind in ("high", *KINDS):
            bad = clean if kind == "high" else D.degrade(clean, kind, seed)
            fixed, r = routed_restore(bad, nets, router)
            row[kind] = {"detail_ratio_db": r["detail_ratio_db"], "routed": r["kind"],
                         "psnr": _db(psnr(fixed, clean)), "psnr_degraded": _db(psnr(bad, clean))}
        films[f.name] = row
    kinds = ("high", *KINDS)
    right = lambda k, v: v["routed"] == ("lowres" if k == "lowres" else "any")
    return {"n": len(films), "seed": seed, "threshold_db": router["threshold_db"],
            "accuracy": {k: round(float(np.mean([right(k, films[f][k]) for f in films])), 4) for k in kinds},
            "range_db": {k: [min(films[f][k]["detail_ratio_db"] for f in films),
                             max(films[f][k]["detail_ratio_db"] for f in films)] for k in kinds},
            "gain": {k: round(float(np.mean([films[f][k]["psnr"] - films[f][k]["psnr_degraded"] for f in films])), 3)
                     for k in KINDS},
            "films": films}


def run_router(shared: Path | None = None, out: Path = OUT / "results.json", progress: bool = True) -> dict:
    """Calibrate the router on phantoms, write ``baa/weights/`` ``FILM_ROUTER``, and measure it on the
    rsna-dev films (when present); adds ``"router"`` to ``out``."""
    router = calibrate_router(progress=progress)
    (WEIGHTS_DIR / FILM_ROUTER).write_text(json.dumps(router, indent=1) + "\n")
    shared = Path(shared or ROOT.parent / "shared")
    res = load_results(out) or {}
    res["router"] = {"router": router}
    if (shared / "rsna-dev").is_dir():
        res["router"]["rsna_dev"] = measure_router(rsna_films(shared), load_film_router(), progress=progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    return res


def router_card_section(rr: dict) -> str:
    """The router's section of the model card, from ``run_router``'s ``"router"`` results."""
    r, ph = rr["router"], rr["router"]["phantom"]
    rng = ", ".join(f"{'clean' if k == 'high' else k} {lo:.1f} to {hi:.1f}" for k, (lo, hi) in ph["range_db"].items())
    real = "Not measured on real films (`../shared/rsna-dev` absent when it was built)."
    if "rsna_dev" in rr:
        m = rr["rsna_dev"]
        acc = " | ".join(f"{100 * m['accuracy'][k]:.0f} %" for k in ("high", *KINDS))
        gain = " | ".join(f"{m['gain'][k]:+.2f}" for k in KINDS)
        rrng = ", ".join(f"{'clean' if k == 'high' else k} {lo:.1f} to {hi:.1f}" for k, (lo, hi) in m["range_db"].items())
        low_margin = r["threshold_db"] - m["range_db"]["lowres"][1]
        rest_margin = min(m["range_db"][k][0] for k in m["range_db"] if k != "lowres") - r["threshold_db"]
        real = f"""On the {m['n']} real films of `../shared/rsna-dev` at their own size (each clean and degraded as `baa degrade`
does, seed {m['seed']}), scores {rrng} dB: the least blurred low-resolution film lies {low_margin:.2f} dB below the
threshold, the most blurred other film {rest_margin:.2f} dB above it. Routed right (the expert for the low resolution, the blind
restorer for the rest), and the PSNR gain of `baa restore` (default `--kind auto`) over the degraded film:

| | clean | noise | label | low resolution |
|---|---|---|---|---|
| routed right | {acc} |
| gain (dB) | | {gain} |"""
    return f"""{ROUTER_BEGIN}
## The router of `baa restore` (`{FILM_ROUTER}`, issue 17)

`baa restore` (default `--kind auto`) sends a film to the low-resolution expert when the share of its
detail in the finest band, `baa.restore.detail_ratio_db` = 10 log10(||x - L{r['factor']}(x)||² / ||x - L{r['factor'] * r['coarse']}(x)||²), is below
**{r['threshold_db']:.2f} dB**, and to the blind restorer otherwise. The threshold separates {ph['n_films']} appearance-randomised
phantom films at {ph['size']} px, each clean and degraded by every kind ({ph['errors']} misrouted; scores {rng} dB);
no real film was used. Rebuild: `{r['command']}`.

{real}
{ROUTER_END}"""


def router_markdown(res: dict | None) -> str:
    """The router measured on rsna-dev (``run_router``'s results) as Markdown, else the model card's
    section on it."""
    if res and "router" in res:
        sec = router_card_section(res["router"])
        src = "Measured in this run (`python -m baa.experiments.film_router`)"
    else:
        card = (WEIGHTS_DIR / "MODEL_CARD.md").read_text()
        if ROUTER_BEGIN not in card:
            return "The router is not calibrated: `python -m baa.experiments.film_router` calibrates and measures it."
        sec = card[card.index(ROUTER_BEGIN):card.index(ROUTER_END) + len(ROUTER_END)]
        src = "As the model card (`baa/weights/MODEL_CARD.md`) recorded when the router was built"
    body = sec.splitlines()[2:-1]  # without the markers and the card's heading
    return src + ":\n" + "\n".join(body).rstrip()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.film_router")
    ap.add_argument("--shared", default=None)
    a = ap.parse_args(argv)
    res = run_router(a.shared)
    rr = res["router"]
    write_card_section(router_card_section(rr))
    print(json.dumps({"router": rr["router"], **{k: rr["rsna_dev"][k] for k in ("accuracy", "gain", "range_db")}}
                     if "rsna_dev" in rr else rr, indent=1))


if __name__ == "__main__":
    main()
