"""Any file to an age (``baa assess``) or a restored film (``baa restore``), and the agreement of
one radiograph's ages across encodings (chapter 9).

Layer: assess.
"""

from __future__ import annotations
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
from baa.data import TTA_VIEWS, tta_views
from baa.io import read_image, resize_pad
from baa.errors import InputError
from baa.assess.prepare import prepare_full
from baa.io.dicom import write_dicom
from baa.io.images import save_image
from baa.experiments.artifacts import artifact_dir
from baa.experiments.tables import load_pipeline
from baa.models.pipelines import PlainPipeline
from baa.profiles import get_profile
from baa.train.trainer import load_checkpoint




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
    ``artifacts/<profile>/models`` or ``checkpoint`` (a folder, or one BoNet+ checkpoint file).
    Raises ``FileNotFoundError`` naming what is missing and how to make it (``make book``)."""

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
    pipe = load_pipeline(pipeline, prof, d)
    clf = None
    if (d / "classifier.pt").exists():  # the CQ classifier's view of the quality, whatever the pipeline
        clf = load_checkpoint(d / "classifier.pt")[0].eval()
    size = _size_of(d, prof.image_size) if checkpoint else prof.image_size
    return {"pipe": pipe, "classifier": clf, "size": size, "source": str(d), "pipeline": pipeline}



def _years_months(years: float) -> str:
    total = max(0, int(round(years * 12)))
    return f"{total // 12} y {total % 12} mo"



@torch.inference_mode()
def _assess_one(path, models: dict, male: float | None, save_dir: Path | None, tta: int = TTA_VIEWS) -> dict:
    prep = prepare_full(path, models["size"])
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
    # the mean age over the restored image and views - 1 warps of it (data.tta_views)
    age = float(reg(tta_views(restored, views), None if m is None else m.expand(views)).mean())
    res = {"file": str(path), "bone_age_years": round(age, 3), "bone_age_months": round(age * 12, 1),
           "bone_age": _years_months(age), "pipeline": models["pipeline"], "tta_views": views}
    clf = models["classifier"]
    if clf is not None:
        probs = (torch.sigmoid(clf(x)) if clf.multi_label else clf(x).softmax(1))[0]
        res["quality"] = clf.classes[int(probs.argmax())]
        res["quality_probs"] = {c: round(float(p), 4) for c, p in zip(clf.classes, probs)}
    else:
        res["quality"], res["quality_probs"] = None, None
    res["preprocessing"] = prep.info
    if save_dir is not None:
        out = Path(save_dir) / f"{Path(path).stem}-restored.png"
        save_image(_add_residual(prep.image, (restored - x)[0, 0].numpy(), models["size"]), out)
        res["restored"] = str(out)
    return res



def assess_files(files, pipeline: str = "dq", profile=None, checkpoint=None, male: float | None = None,
                 save_dir=None, tta: int = TTA_VIEWS) -> list[dict]:
    """One dict per file: the assessment (:func:`_assess_one`'s keys) or ``{"file", "error"}``.
    ``tta``: the age is the mean over this many views of the restored input (1: the input alone)."""
    models = load_models(pipeline, profile, checkpoint)
    out = []
    for f in files:
        try:
            out.append(_assess_one(f, models, male, Path(save_dir) if save_dir else None, tta))
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
            res = [_assess_one(p, models, None, None, tta) for p in files.values()]
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






@torch.inference_mode()
def restore_file(inp, out, profile=None, checkpoint=None, bits: int = 8) -> dict:
    """The DQ restoration of one file, saved at the input's size: the ResUNet runs at the
    profile's size and its residual, upsampled, is added to the full-resolution image."""
    models = load_models("dq", profile, checkpoint)
    img = read_image(inp, fix_polarity=True)
    size = models["size"]
    x = torch.from_numpy(resize_pad(img, size))[None, None]
    residual = (models["pipe"].restore(x) - x)[0, 0].numpy()
    save_image(_add_residual(img, residual, size), Path(out), bits)
    return {"input": str(inp), "output": str(out), "shape": list(img.shape), "network_size": size}



def line(r: dict) -> str:
    s = f"{r['file']}: bone age {r['bone_age_years']:.2f} y ({r['bone_age']}), pipeline {r['pipeline']}"
    if r.get("quality"):
        probs = ", ".join(f"{k} {v:.2f}" for k, v in r["quality_probs"].items())
        s += f", quality {r['quality']} ({probs})"
    pre = r.get("preprocessing", {})
    if pre.get("orientation") == "corrected":
        s += f", {pre['hand']} hand, rotated {pre['rotate_degrees']:.0f} deg"
    return s
