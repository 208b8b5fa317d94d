"""Any file to an age (``baa assess``) or a restored film (``baa restore``), and the agreement of
one radiograph's ages across encodings (chapter 9).

Layer: assess.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from baa.assess.handcheck import check_file
from baa.data import AGE_RANGE_YEARS, TTA_VIEWS, tta_views
from baa.data.prepare import prepare_full
from baa.errors import InputError
from baa.experiments.artifacts import artifact_dir
from baa.experiments.tables import classifier, load_pipeline, regressors, restorers
from baa.io import normalize_images, read_image, resize_pad
from baa.io.atomic import save_json
from baa.io.dicom import write_dicom
from baa.io.images import save_image
from baa.models import BoneSegmenter
from baa.models.pipelines import PlainPipeline
from baa.models.tiles import apply_tiled
from baa.phantom import SPLIT_OFFSET, PhantomConfig, render
from baa.profiles import Profile, get_profile
from baa.restore import route_film
from baa.train.trainer import load_checkpoint, predict
from baa.weights import load_film_restorer, load_film_router, load_shipped


def _size_of(ckpt_dir: Path, default: int) -> int:
    """The image size a checkpoint folder was trained at (stored profile), else ``default``."""
    for name in ("bonet_mae_fold0", "bonet_nq", "resunet_dq", "classifier"):
        f = ckpt_dir / f"{name}.pt"
        if f.exists():
            extra = torch.load(f, map_location="cpu", weights_only=False).get("extra", {})
            size = (extra.get("profile") or {}).get("image_size")
            if size:
                return int(size)
    return default


def load_models(pipeline: str = "dq", profile=None, checkpoint=None) -> dict:
    """``{"pipe", "classifier" (or None), "size", "source"}`` for ``pipeline`` from
    ``artifacts/<profile>/models`` or ``checkpoint`` (a folder, or one BoNet+ checkpoint file);
    ``pipeline="shipped"``: the model in ``baa/weights`` (no training needed). Raises
    ``FileNotFoundError`` naming what is missing and how to make it (``make book``)."""

    if pipeline == "shipped":
        return load_shipped()
    prof = get_profile(profile)
    if checkpoint and Path(checkpoint).is_file():
        model, state = load_checkpoint(checkpoint)
        if state["spec"]["name"] != "BoNetPlus":
            raise InputError(checkpoint, f"holds a {state['spec']['name']}, not a BoNet+; pass a folder of checkpoints")
        size = ((state.get("extra") or {}).get("profile") or {}).get("image_size") or prof.image_size
        return {"pipe": PlainPipeline(model).eval(), "classifier": None, "size": int(size),
                "source": str(checkpoint), "pipeline": "plain"}
    d = Path(checkpoint) if checkpoint else artifact_dir(prof) / "models"
    if checkpoint and not d.is_dir():
        raise FileNotFoundError(f"{d}: no such checkpoint file or folder")
    pipe = load_pipeline(pipeline, d if checkpoint else prof)
    clf = None
    if (d / "classifier.pt").exists():  # the CQ classifier's view of the quality, whatever the pipeline
        clf = load_checkpoint(d / "classifier.pt")[0].eval()
    size = _size_of(d, prof.image_size) if checkpoint else prof.image_size
    return {"pipe": pipe, "classifier": clf, "size": size, "source": str(d), "pipeline": pipeline}


def model_args(p: Profile) -> list[str]:
    """The ``baa assess`` options that name the models ``make book`` trained for ``p``: ``--profile``
    on the phantom; on a real dataset ``--checkpoint`` of its data-tagged folder
    (``artifacts/<profile>/<data tag>/models``), which ``--profile`` alone would not find."""
    return ["--profile", p.name] if p.data.phantom else ["--checkpoint", str(artifact_dir(p) / "models")]


# Test-time views whose ages spread (std over the views) wider than this are flagged: BoNet+ saw
# such warps in training (data.tta_views), so on a film it can read they move the age by a fraction
# of its error; a spread of a year says the age depends on the framing more than on the bones.
MAX_TTA_STD_YEARS = 1.0


class NotAHand(InputError):
    """The hand check (baa.assess.handcheck) refused the file; ``problem`` starts "not a hand
    radiograph: " and names the reason."""


def _years_months(years: float) -> str:
    total = max(0, int(round(years * 12)))
    return f"{total // 12} y {total % 12} mo"


def age_warnings(raw: float, std: float, views: int, bounds: tuple[float, float] = AGE_RANGE_YEARS) -> list[str]:
    """What makes an age untrustworthy: a raw output outside ``bounds`` (the trained range,
    ``AGE_RANGE_YEARS`` unless the model states its own; reported clamped), test-time views whose
    std exceeds ``MAX_TTA_STD_YEARS``."""
    lo, hi = bounds
    out = []
    if not lo <= raw <= hi:
        out.append(f"raw age {raw:.2f} y is outside the trained range {lo:g}-{hi:g} y "
                   f"(reported as {min(max(raw, lo), hi):g} y)")
    if views > 1 and std > MAX_TTA_STD_YEARS:
        out.append(f"the {views} test-time views disagree (std {std:.2f} y > {MAX_TTA_STD_YEARS:g} y)")
    return out


@torch.inference_mode()
def _assess_one(path, models: dict, male: float | None, save_dir: Path | None, tta: int = TTA_VIEWS,
                force: bool = False, check: bool = True) -> dict:
    """One file to its result dict. ``check``: run the hand check first (refused: NotAHand, unless
    ``force``, which assesses it and records ``"forced": true`` with the reason as a warning)."""
    prep = prepare_full(path, models["size"])
    hc = check_file(path, prep) if check else None
    if hc is not None and not hc.hand and not force:
        raise NotAHand(path, f"not a hand radiograph: {hc.reason}")
    x = prep.tensor
    pipe = models["pipe"]
    reg = pipe.regressor
    m = None
    if getattr(reg, "config", None) is not None and reg.config.use_sex:
        if male is None:
            raise InputError(path, "this BoNet+ uses the sex: pass --sex M or --sex F")
        m = torch.tensor([male])
    restored = pipe.restore(x)
    views = max(1, int(tta))
    # the mean age over the restored image and views - 1 warps of it (data.tta_views), bounded to
    # the ages the models were trained on; what falls outside is flagged, never silently reported.
    # A regressor with its own ``bounds`` (the shipped head) clamps each view: its raw ages are read unclamped.
    own = getattr(reg, "bounds", None)
    kw = {"bounded": False} if own else {}
    unbounded = reg(tta_views(restored, views), None if m is None else m.expand(views), **kw).reshape(-1).double()
    ages = unbounded.clamp(*own) if own else unbounded
    raw, std = float(unbounded.mean()), float(ages.std(unbiased=False))
    age = min(max(float(ages.mean()), AGE_RANGE_YEARS[0]), AGE_RANGE_YEARS[1])
    warnings = age_warnings(raw, std, views, own or AGE_RANGE_YEARS)
    forced = hc is not None and not hc.hand
    if forced:
        warnings.insert(0, f"not a hand radiograph: {hc.reason} (assessed with --force)")
    res = {"file": str(path), "bone_age_years": round(age, 3), "bone_age_months": round(age * 12, 1),
           "bone_age": _years_months(age), "pipeline": models["pipeline"], "tta_views": views,
           "bone_age_raw_years": round(raw, 3), "tta_std_years": round(std, 3), "warnings": warnings,
           "forced": forced, "hand_check": None if hc is None else {"hand": hc.hand, "reason": hc.reason,
                                                                     "score": hc.score}}
    clf = models["classifier"]
    if clf is not None:
        probs = (torch.sigmoid(clf(x)) if clf.multi_label else clf(x).softmax(1))[0]
        res["quality"] = clf.classes[int(probs.argmax())]
        res["quality_probs"] = {c: round(float(p), 4) for c, p in zip(clf.classes, probs)}
    else:
        res["quality"], res["quality_probs"] = None, None
    res["preprocessing"] = prep.info
    if save_dir is not None and restored.shape[1] == x.shape[1]:
        out = Path(save_dir) / f"{Path(path).stem}-restored.png"
        save_image(_add_residual(prep.image, (restored - x)[0, 0].numpy(), models["size"]), out)
        res["restored"] = str(out)
    elif save_dir is not None:  # the network reads bone maps (the shipped model): red bones, green carpals, blue epiphyses
        out = Path(save_dir) / f"{Path(path).stem}-maps.png"
        rgb = torch.zeros(3, *restored.shape[-2:])
        names = getattr(pipe, "maps", ()) or BoneSegmenter.MAP_NAMES[:restored.shape[1]]
        for k, name in enumerate(names):  # each map in its own colour; a map not read stays dark
            rgb[BoneSegmenter.MAP_NAMES.index(BoneSegmenter.DERIVED.get(name, name))] = restored[0, k]
        save_image(rgb.permute(1, 2, 0).numpy(), out)
        res["maps"] = str(out)
    return res


def assess_files(files, pipeline: str = "dq", profile=None, checkpoint=None, male: float | None = None,
                 save_dir=None, tta: int = TTA_VIEWS, force: bool = False, progress: bool = False) -> list[dict]:
    """One dict per file: the assessment (:func:`_assess_one`'s keys), ``{"file", "error",
    "refused": True}`` for a file the hand check refuses (``force``: assess it anyway, flagged), or
    ``{"file", "error"}``. ``tta``: the age is the mean over this many views of the restored input
    (1: the input alone). ``progress``: a tqdm bar over the files."""
    models = load_models(pipeline, profile, checkpoint)
    out = []
    for f in tqdm(list(files), desc="assess", disable=not progress):
        try:
            out.append(_assess_one(f, models, male, Path(save_dir) if save_dir else None, tta, force))
        except NotAHand as e:
            out.append({"file": str(f), "error": e.problem, "refused": True})
        except InputError as e:
            out.append({"file": str(f), "error": e.problem})
        except Exception as e:  # an unexpected failure on one file must not stop the batch
            out.append({"file": str(f), "error": f"{type(e).__name__}: {' '.join(str(e).split())}"})
    return out


ENCODINGS = ("png8", "png16", "rgb", "inverted", "jpeg_half", "tiff16", "dicom_m2", "dicom_m1")


def write_encodings(img: np.ndarray, folder, stem: str = "a") -> dict[str, Path]:
    """``img`` (H,W) in [0,1] written as each of ``ENCODINGS`` (issue: "the same radiograph in any
    of these encodings"): 8-bit, 16-bit, RGB and inverted PNG; JPEG quality 75 at half size (Lanczos);
    16-bit TIFF; DICOM MONOCHROME2 (12-bit values); DICOM MONOCHROME1 with rescale slope/intercept
    and a VOI window. Returns ``{encoding: path}``."""
    from PIL import Image

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    img = np.clip(np.asarray(img, dtype=np.float64), 0, 1)
    u8, u16 = (img * 255).round().astype(np.uint8), (img * 65535).round().astype(np.uint16)
    h, w = u8.shape
    f = {e: d / f"{stem}-{e}.{ext}" for e, ext in zip(ENCODINGS, ("png", "png", "png", "png", "jpg", "tif", "dcm", "dcm"))}
    Image.fromarray(u8).save(f["png8"])
    Image.fromarray(u16).save(f["png16"])
    Image.fromarray(np.stack([u8] * 3, -1)).save(f["rgb"])
    Image.fromarray(255 - u8).save(f["inverted"])
    Image.fromarray(u8).resize((w // 2, h // 2), Image.LANCZOS).save(f["jpeg_half"], quality=75)
    Image.fromarray(u16).save(f["tiff16"])
    write_dicom(f["dicom_m2"], (img * 4095).round())
    v = (1 - img) * 4000 - 1000  # MONOCHROME1: modality value v = slope * stored + intercept, bone low
    write_dicom(f["dicom_m1"], ((v + 1000) / 2).round(), "MONOCHROME1", slope=2.0, intercept=-1000.0,
                window=(1000.0, 4000.0))
    return f


def encoding_agreement(images, pipeline: str = "dq", profile=None, checkpoint=None, names=None,
                       tta: int = TTA_VIEWS) -> dict:
    """Assess each radiograph of ``images`` ((N,H,W) in [0,1]) in every encoding of
    ``write_encodings`` with the trained models (``tta`` views a file, as ``baa assess``); returns
    ``{"ages": {name: {encoding: years}}, "spread": {name: max - min}, "max_spread", "worst": {name:
    encoding farthest from png8}, "pipeline", "source", "tta_views"}``."""
    import tempfile

    models = load_models(pipeline, profile, checkpoint)
    names = list(names or [f"image {i}" for i in range(len(images))])
    ages, worst = {}, {}
    with tempfile.TemporaryDirectory() as d:
        for name, img in zip(names, images):
            files = write_encodings(np.asarray(img), Path(d) / str(len(ages)))
            res = [_assess_one(p, models, None, None, tta, check=False) for p in files.values()]
            ages[name] = {e: r["bone_age_years"] for e, r in zip(files, res)}
            worst[name] = max(ENCODINGS, key=lambda e: abs(ages[name][e] - ages[name]["png8"]))
    spread = {n: max(a.values()) - min(a.values()) for n, a in ages.items()}
    return {"ages": ages, "spread": spread, "max_spread": max(spread.values()), "worst": worst,
            "pipeline": pipeline, "source": models["source"], "tta_views": max(1, int(tta))}


def _add_residual(img: np.ndarray, residual: np.ndarray, size: int) -> np.ndarray:
    """Add a residual computed on ``resize_pad(img, size)`` back onto ``img`` at its own size:
    un-pad, upsample (bilinear), add, clip. Detail finer than the network's input is kept."""
    h, w = img.shape
    scale = size / max(h, w)
    nh, nw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    top, left = (size - nh) // 2, (size - nw) // 2  # as resize_pad centres the image
    r = torch.from_numpy(np.ascontiguousarray(residual[top:top + nh, left:left + nw], dtype=np.float32))
    r = F.interpolate(r[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
    return np.clip(img + r, 0.0, 1.0).astype(np.float32)


RESTORE_SCALES = ("film", "network")


@torch.inference_mode()
def restore_file(inp, out, profile=None, checkpoint=None, bits: int = 8, scale: str = "film",
                 shipped: bool = False, kind: str = "auto") -> dict:
    """The restoration of one file, saved at the input's size. ``shipped``: the film-scale ResUNet
    shipped in ``baa/weights`` (``load_film_restorer``: trained on film-scale patches, no training
    needed), in overlapping tiles of its own tile side; ``scale`` must be ``"film"``. Otherwise the
    DQ ResUNet of ``profile`` or ``checkpoint``: ``scale="film"``, at the film's own pixel scale in
    overlapping tiles of the network's input size (``models.tiles.apply_tiled``; memory bounded
    whatever the film's size); ``"network"``, once on the film resized to the network's input, its
    residual upsampled and added back. ``kind``, shipped restorers only: ``"any"`` the blind
    restorer, ``"lowres"`` its low-resolution expert (``load_film_restorer(kind="lowres")``),
    ``"auto"`` (default) the one the shipped router picks (``baa.restore.route_film``: the expert when
    the film's ``detail_ratio_db`` is below its threshold), reported under ``"routed"``; with a
    profile or checkpoint ``"auto"`` is the DQ restorer."""
    if scale not in RESTORE_SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose {', '.join(RESTORE_SCALES)}")
    if kind not in ("auto", "any", "lowres"):
        raise ValueError(f"unknown kind {kind!r}; choose auto, any or lowres")
    if kind == "lowres" and not shipped:
        raise ValueError(f"--kind {kind} runs a shipped restorer: leave out --profile, --checkpoint and $BAA_PROFILE")
    if shipped and scale != "film":
        raise ValueError("the shipped film restorer runs at the film's scale only; name a --profile for 'network'")
    img = read_image(inp, fix_polarity=True)
    routed = None
    if shipped:
        if kind == "auto":
            routed = route_film(img, load_film_router())
            kind = routed["kind"]
        m = load_film_restorer(kind=kind)
        net, size, source = m["net"], m["tile"], m["source"]
    else:
        models = load_models("dq", profile, checkpoint)
        net, size, source = models["pipe"].restorer, models["size"], models["source"]
    if scale == "film":
        restored = apply_tiled(net, torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)), size)
        save_image(restored.clamp(0.0, 1.0).numpy(), Path(out), bits)
    else:
        x = torch.from_numpy(resize_pad(img, size))[None, None]
        residual = (models["pipe"].restore(x) - x)[0, 0].numpy()
        save_image(_add_residual(img, residual, size), Path(out), bits)
    r = {"input": str(inp), "output": str(out), "shape": list(img.shape), "network_size": size, "scale": scale,
         "restorer": ("shipped" if kind == "any" else f"shipped {kind} expert") if shipped else "dq", "source": source}
    return r | ({"routed": routed} if routed else {})


def line(r: dict) -> str:
    s = f"{r['file']}: bone age {r['bone_age_years']:.2f} y ({r['bone_age']}), pipeline {r['pipeline']}"
    if r.get("quality"):
        probs = ", ".join(f"{k} {v:.2f}" for k, v in r["quality_probs"].items())
        s += f", quality {r['quality']} ({probs})"
    pre = r.get("preprocessing", {})
    if pre.get("orientation") == "corrected":
        s += f", {pre['hand']} hand, rotated {pre['rotate_degrees']:.0f} deg"
    if r.get("warnings"):
        s += "; WARNING: " + "; ".join(r["warnings"])
    return s


# -- chapter 9 ---------------------------------------------------------------------------------------

def encodings_study(profile, n: int, pipelines=("dq", "cq")) -> dict:
    """Chapter 9's first measurement: ``n`` held-out test phantoms (256 px, no collimation, so an
    inverted export is unambiguous) in every encoding of ``write_encodings``, assessed by
    :func:`encoding_agreement` with each of ``pipelines`` (16 views) and with DQ on one view; and the
    MAE through the 8-bit PNG against DQ on the phantoms rendered at the network's size (what
    reading, turning and cropping a file cost). Trains the models first if absent; saves
    ``results/encodings.json``. Returns ``{"names", "truth", "agree": {label: agreement},
    "lossless": {label: largest spread without the lossy JPEG}, "mae": {...}}``."""

    P = get_profile(profile)
    regressors(P, progress=False), restorers(P, progress=False), classifier(P, progress=False)
    idx = [SPLIT_OFFSET["test"] + i for i in range(n)]
    ph = render(idx, seed=P.seed, config=PhantomConfig(size=256, collimation=False))
    truth = ph["label"].numpy()
    names = [f"test phantom {i} ({a:.1f} y)" for i, a in enumerate(truth)]
    images = ph["image"][:, 0].numpy()
    agree = {pipe: encoding_agreement(images, pipe, P, names=names) for pipe in pipelines}
    agree["dq, one view"] = encoding_agreement(images, "dq", P, names=names, tta=1)
    lossless = {k: max(max(a[e] for e in ENCODINGS if e != "jpeg_half") - min(a[e] for e in ENCODINGS if e != "jpeg_half")
                       for a in r["ages"].values()) for k, r in agree.items()}
    rendered = normalize_images(render(idx, seed=P.seed, config=PhantomConfig(size=P.image_size, collimation=False))["image"])
    dq = load_pipeline("dq", P)
    restored = predict(dq.restorer, rendered).clamp(0, 1)
    via_file = np.array([agree["dq"]["ages"][nm]["png8"] for nm in names])
    mae = {"dq via png8": float(np.abs(via_file - truth).mean()),
           "dq rendered": float(np.abs(predict(dq.regressor, restored).reshape(-1).numpy() - truth).mean()),
           "dq rendered, same views": float(np.abs(predict(dq.regressor, restored, tta=agree["dq"]["tta_views"])
                                                   .reshape(-1).numpy() - truth).mean())}
    out = {"profile": P.name, "data": f"phantom (seed {P.seed}), test indices {idx[0]}..{idx[-1]}, 256 px",
           "names": names, "truth": truth.tolist(), "agree": agree, "lossless": lossless, "mae": mae}
    save_json(out, artifact_dir(P) / "results" / "encodings.json")
    return out


# what chapter 9's mixed folder holds: (file name, how it is written, what it is)
MIXED = (("hand-explicit-be.dcm", "explicit_be", "phantom"), ("hand-deflated.dcm", "deflated", "phantom"),
         ("hand-rle.dcm", "rle", "phantom"), ("hand-jpeg-extended.dcm", "jpeg_extended", "phantom"),
         ("hand-jpeg-lossless.dcm", "jpeg_lossless", "phantom"), ("hand-jpegls-near.dcm", "jpegls_near", "phantom"),
         ("hand-j2k.dcm", "j2k", "phantom"), ("hand-mono1-j2k-lossless.dcm", "j2k_lossless", "phantom, MONOCHROME1"),
         ("real-jpeg-baseline.dcm", "jpeg_baseline", "real film"), ("camera.png", "png", "photograph"),
         ("astronaut.jpg", "jpeg", "colour photograph"), ("head-ct.dcm", "jpegls", "CT slice"),
         ("chest-cr.dcm", "rle", "film labelled CHEST"), ("bricks.dcm", "j2k_lossless", "texture"),
         ("noise.png", "png", "noise"))


def mixed_folder(folder, real_film=None, seed: int = 0) -> dict[str, str]:
    """Write chapter 9's mixed folder (``MIXED``): test phantoms in eight DICOM transfer syntaxes,
    ``real_film`` (a path; left out when None) as JPEG baseline DICOM, and seven non-hands (an
    ``skimage.data`` photograph and colour photograph, the Shepp-Logan head as a CT slice, a phantom
    labelled BodyPartExamined CHEST, a brick texture and noise). Returns ``{file: what it is}``."""
    import skimage.data as sd
    from PIL import Image

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    ph = render([SPLIT_OFFSET["test"] + i for i in range(9)], seed=seed, config=PhantomConfig(size=256))["image"][:, 0].numpy()
    u12 = lambda a: np.round(np.clip(a, 0, 1) * 4095).astype(np.uint16)  # noqa: E731
    out = {}
    for i, (name, how, what) in enumerate(MIXED):
        f = d / name
        if what.startswith("phantom"):
            mono1 = "MONOCHROME1" in what
            write_dicom(f, u12(1 - ph[i] if mono1 else ph[i]), "MONOCHROME1" if mono1 else "MONOCHROME2",
                        transfer_syntax=how, body_part="HAND")
        elif what == "real film":
            if real_film is None:
                continue
            write_dicom(f, np.round(read_image(real_film) * 255).astype(np.uint8), transfer_syntax=how, modality="DX")
        elif what == "film labelled CHEST":
            write_dicom(f, u12(ph[8]), transfer_syntax=how, body_part="CHEST")
        elif what == "CT slice":
            write_dicom(f, u12(sd.shepp_logan_phantom()), transfer_syntax=how, modality="CT", body_part="HEAD")
        elif what == "texture":
            write_dicom(f, sd.brick().astype(np.uint16) * 16, transfer_syntax=how, modality="OT")
        elif what == "noise":
            Image.fromarray(np.random.default_rng(seed).integers(0, 256, (300, 240), dtype=np.uint8)).save(f)
        else:
            Image.fromarray(sd.astronaut() if "colour" in what else sd.camera()).save(f, **({"quality": 90} if how == "jpeg" else {}))
        out[name] = what
    return out


def outcome(r: dict) -> str:
    """One result of :func:`assess_files` (or a ``baa assess --json`` line) in a few words."""
    if "error" in r:
        return ("refused: " if r.get("refused") else "error: ") + r["error"]
    s = f"{r['bone_age_years']:.1f} y"
    if r.get("forced"):
        s += " (forced)"
    return s + ("; " + "; ".join(w for w in r["warnings"] if not w.startswith("not a hand")) if r.get("warnings") else "")


def bad_files(folder) -> list[Path]:
    """Chapter 9's bad files, one of each kind a hospital folder holds: empty, text named ``.png``, a
    PNG cut off after 200 bytes, a DICOM whose pixel data is too short, a TIFF full of NaN."""
    from PIL import Image

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    (d / "empty.png").write_bytes(b"")
    (d / "notes.png").write_text("scanned on Tuesday\n")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (128, 128), dtype=np.uint8)).save(d / "whole.png")
    (d / "truncated.png").write_bytes((d / "whole.png").read_bytes()[:200])
    (d / "whole.png").unlink()
    raw = write_dicom(d / "garbage.dcm", np.zeros((64, 64))).read_bytes()
    (d / "garbage.dcm").write_bytes(raw[: len(raw) - 64 * 64 * 2] + bytes(range(256)) * 4)
    Image.fromarray(np.full((64, 64), np.nan, np.float32)).save(d / "nan.tif")
    return [d / n for n in ("empty.png", "notes.png", "truncated.png", "garbage.dcm", "nan.tif")]


def results_table(results: list[dict]):
    """:func:`assess_files` results (or ``baa assess --json`` lines) as a table, one row a file
    (its name): what the command says, the quality CQ sees, the hand and its turn, the spread of
    the test-time views, the hand check's score."""
    import pandas as pd

    return pd.DataFrame({Path(r["file"]).name: {
        "baa assess says": outcome(r), "quality": r.get("quality"), "hand": r.get("preprocessing", {}).get("hand"),
        "rotated (deg)": r.get("preprocessing", {}).get("rotate_degrees"), "views' std (y)": r.get("tta_std_years"),
        "hand check score": (r.get("hand_check") or {}).get("score")} for r in results}).T


def real_films_text(results: list[dict], p) -> str:
    """Chapter 9's reading of :func:`assess_files` on the real films: the range of ages, how many
    carry a warning or were refused, and what those ages are worth given the models' data."""
    ages = np.array([r["bone_age_years"] for r in results if "bone_age_years" in r])
    said = (f"give **{ages.min():.1f} to {ages.max():.1f} years** (median {np.median(ages):.1f})" if ages.size
            else "give no age")
    counts = (f"{sum(bool(r.get('warnings')) for r in results)} of {len(results)} results carry a warning, "
              f"{sum('error' in r for r in results)} were refused.")
    if p.data.phantom:
        return (f"The phantom-trained models (profile {p.name}) {said}; {counts} **These ages are not to be trusted**: "
                "the networks have never seen a real radiograph (chapter 11 measures the gap); real ages need the "
                "shipped model (`baa assess` with no `--profile`) or models trained on real labelled data "
                "(`make book DATA=DIR FORMAT=rsna|dha|csv`).")
    return (f"The models trained on `{p.data.name}` (profile {p.name}) {said}; {counts} Some of these films may be "
            "in their training set: this is a demonstration, not a measurement (chapter 5 has the held-out errors).")
