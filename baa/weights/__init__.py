"""The model shipped with the package (issue 18): a ``BoneSegmenter`` that marks the bones, carpals and
epiphyses of a prepared, standardised film, and BoNet+ that reads its maps, both trained on
appearance-randomised phantoms, with a ridge head fitted on the 28 real RSNA films of
``../shared/rsna-dev``. See ``MODEL_CARD.md`` here; rebuild it with ``make weights``
(``python -m baa.experiments.shipped``).

``load_film_restorer()`` is the film-scale ResUNet ``baa restore`` runs when no trained profile is
named (``python -m baa.experiments.film_restore run`` rebuilds it).

``load_hand_classifier()`` is the CNN of the hand check (``python -m baa.assess.handnet build``
rebuilds it).

``load_shipped()`` returns the dict ``baa.assess.assess.load_models`` returns, so ``baa assess``
can answer from a fresh clone without training.

Layer: models (``baa.weights`` is the shipped model, beside the networks it is made of).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch

from baa.models.handnet import HandClassifier
from baa.models.resunet import ResUNet
from baa.weights.model import CalibratedBoNet, ShippedPipeline, build, save_state, standardise, standardise_image

HERE = Path(__file__).resolve().parent
FILM_RESTORER = "resunet_film.pt"  # the ResUNet `baa restore` runs at the film's scale (issue 17)
FILM_LOWRES = "resunet_film_lowres.pt"  # its low-resolution expert (`baa restore --kind lowres`)
FILM_ROUTER = "film_router.json"  # which film `baa restore --kind auto` sends to the expert
HAND_CLASSIFIER = "handnet.pt"  # the learned half of the hand check (issue 21)
FILES = ("bonet_real.pt", FILM_RESTORER, FILM_LOWRES, HAND_CLASSIFIER)  # the shipped checkpoint files, hashed in MODEL_CARD.md


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def card_hashes(card: Path | None = None) -> dict[str, str]:
    """``{file: sha256}`` as written in the model card's "Files" table (rows ``| name | bytes | sha256 |``)."""
    out = {}
    for line in Path(card or HERE / "MODEL_CARD.md").read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in FILES and len(cells[2]) == 64:
            out[cells[0]] = cells[2]
    return out


def write_card_section(section: str, card: Path | None = None) -> None:
    """Replace the model card's marked section, from its first line (``<!-- name -->``) to its last
    (``<!-- /name -->``), by ``section``; append it where the card has none. Each shipped file
    that another command builds keeps its section this way."""
    card = Path(card or HERE / "MODEL_CARD.md")
    lines = section.strip("\n").splitlines()
    begin, end = lines[0], lines[-1]
    text = card.read_text()
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    card.write_text(text)


def load_shipped(path=None) -> dict:
    """``{"pipe", "classifier": None, "size", "source", "pipeline": "shipped"}`` from the shipped
    checkpoint (or ``path``): the keys of ``baa.assess.assess.load_models``."""
    f = Path(path) if path else HERE / FILES[0]
    if not f.exists():
        raise FileNotFoundError(f"{f}: no shipped model; run `make weights` to build it")
    state = torch.load(f, map_location="cpu", weights_only=False)
    return {"pipe": build(state), "classifier": None, "size": int(state["size"]), "source": str(f),
            "pipeline": "shipped", "meta": state.get("meta", {})}


def load_film_restorer(path=None, kind: str = "any") -> dict:
    """``{"net", "tile", "source", "meta"}``: the shipped film-scale ResUNet (``FILM_RESTORER``, built by
    ``python -m baa.experiments.film_restore run``; ``kind="lowres"``: its low-resolution expert
    ``FILM_LOWRES``, ``... film_restore lowres``), in eval mode, and the tile side it runs at."""
    if kind not in ("any", "lowres"):
        raise ValueError(f"no shipped film restorer for {kind!r}; choose 'any' or 'lowres'")
    f = Path(path) if path else HERE / (FILM_LOWRES if kind == "lowres" else FILM_RESTORER)
    if not f.exists():
        raise FileNotFoundError(f"{f}: no shipped film restorer; run `python -m baa.experiments.film_restore run`")
    state = torch.load(f, map_location="cpu", weights_only=False)
    if state["spec"]["name"] != "ResUNet":
        raise ValueError(f"{f}: holds a {state['spec']['name']}, not a ResUNet")
    net = ResUNet(**state["spec"]["kwargs"])
    net.load_state_dict(state["model"])
    return {"net": net.eval(), "tile": int(state["tile"]), "source": str(f), "meta": state.get("meta", {})}


def load_film_router(path=None) -> dict:
    """``{"threshold_db", "factor", "coarse", ...}``: the router of ``baa restore --kind auto``
    (``FILM_ROUTER``, calibrated on phantom films by ``python -m baa.experiments.film_router``):
    a film whose ``baa.restore.detail_ratio_db`` is below the threshold goes to the low-resolution expert."""
    f = Path(path) if path else HERE / FILM_ROUTER
    if not f.exists():
        raise FileNotFoundError(f"{f}: no shipped film router; run `python -m baa.experiments.film_router`")
    return json.loads(f.read_text())


def load_hand_classifier(path=None) -> dict:
    """``{"nets", "size", "threshold", "source", "meta"}``: the shipped ensemble of
    ``HandClassifier`` (``HAND_CLASSIFIER``) in eval mode, its input side and the mean probability
    below which the hand check refuses."""
    f = Path(path) if path else HERE / HAND_CLASSIFIER
    if not f.exists():
        raise FileNotFoundError(f"{f}: no shipped hand classifier; run `python -m baa.assess.handnet build`")
    state = torch.load(f, map_location="cpu", weights_only=False)
    nets = []
    for sd in state["models"]:
        nets.append(HandClassifier(**state["spec"]["kwargs"]))
        nets[-1].load_state_dict(sd)
        nets[-1].eval()
    return {"nets": nets, "size": int(state["size"]), "threshold": float(state["threshold"]), "source": str(f),
            "meta": state.get("meta", {})}


__all__ = ["FILM_LOWRES", "FILM_ROUTER", "load_film_router", "HAND_CLASSIFIER", "load_hand_classifier", "CalibratedBoNet", "FILES", "FILM_RESTORER", "HERE", "ShippedPipeline", "build", "card_hashes", "load_film_restorer", "load_shipped", "save_state",
           "sha256", "standardise", "standardise_image", "write_card_section"]
