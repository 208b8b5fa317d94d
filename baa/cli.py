"""The ``baa`` command (also ``python -m baa``).

Bad input (a missing or unreadable file, a CSV without the needed columns, an empty dataset) gets
one line naming the file and the problem on stderr and exit code 2, never a traceback; nothing is
left half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from baa.errors import InputError


def _json_out(obj) -> None:
    print(json.dumps(obj, indent=1))


# -- subcommands ------------------------------------------------------------------------------------

def cmd_data(a) -> int:
    from baa.data import summarize

    _json_out(summarize(a.dir, a.format, progress=False))
    return 0


def cmd_phantom(a) -> int:
    from baa.phantom import write_rsna

    _json_out(write_rsna(a.out, n=a.n, size=a.size, seed=a.seed, bits=a.bits, progress=not a.quiet))
    return 0


def _save_image(img, out: Path, bits: int = 8) -> None:
    """Write a [0,1] float image (H, W) as 8- or 16-bit PNG (or any PIL format by suffix), atomically."""
    import numpy as np
    from PIL import Image

    arr = np.clip(np.asarray(img, dtype=np.float64), 0, 1)
    im = Image.fromarray((arr * 65535).round().astype(np.uint16)) if bits == 16 else Image.fromarray((arr * 255).round().astype(np.uint8))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}{out.suffix}")
    try:
        im.save(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def cmd_degrade(a) -> int:
    import torch

    from baa import degrade as D
    from baa.data import read_image

    img = torch.from_numpy(read_image(a.input, fix_polarity=False))[None, None]
    out = D.degrade(img, a.kind, a.seed, photons=a.photons, label_fraction=(a.label_min, a.label_max), factor=a.factor)
    _save_image(out[0, 0].numpy(), Path(a.output), a.bits)
    return 0


def cmd_train(a) -> int:
    import torch
    import torch.distributed as dist

    from baa import pipelines as P
    from baa.data import load
    from baa.models import BoNetPlus, QualityClassifier, ResUNet
    from baa.profiles import get_profile
    from baa.train import fit_classifier, fit_regressor, fit_restorer, pick_device

    p = get_profile(a.profile)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():  # launched by torchrun
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    try:
        data = P.dataset(p, "train", progress=False) if a.data is None else load(a.data, a.format, size=p.image_size)
        tensors = {"image": data.images, "age": data.age, "male": data.male}
        cfg = P._config(p, a.task, 0, progress=not a.quiet)
        if a.epochs:
            cfg.epochs = a.epochs
        if a.device:
            cfg.device = a.device
        elif world > 1 and torch.cuda.is_available():
            cfg.device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        elif world > 1:
            cfg.device = "cpu"
        torch.manual_seed(p.seed)
        out = Path(a.out)
        kw = dict(checkpoint=out, extra={"profile": p.to_dict(), "name": out.stem, "data": data.source})
        if a.task == "regressor":
            t = fit_regressor(BoNetPlus(width=p.width), tensors, cfg, loss=a.loss,
                              qualities=P.QUALITIES if a.all_qualities else None, **kw)
        elif a.task == "classifier":
            t = fit_classifier(QualityClassifier(width=p.classifier_width, hidden=p.classifier_hidden or None), tensors,
                               cfg, size=p.classifier_size or None, **kw)
        else:
            kinds = tuple(a.kinds.split(",")) if a.kinds else P.DQ_KINDS
            t = fit_restorer(ResUNet(width=p.width, depth=p.resunet_depth), tensors, cfg, kinds=kinds, **kw)
        if t.rank == 0:
            _json_out({"checkpoint": str(out), "device": str(pick_device(cfg.device)), "world_size": world,
                       "history": t.history})
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _pipeline(a):
    from baa import pipelines as P

    ckpt = getattr(a, "checkpoint", None)
    if ckpt and Path(ckpt).is_file():
        from baa.models import PlainPipeline
        from baa.train import load_checkpoint

        model, state = load_checkpoint(ckpt)
        if state["spec"]["name"] != "BoNetPlus":
            raise InputError(ckpt, f"holds a {state['spec']['name']}, not a BoNet+; pass a folder of checkpoints for dq/cq")
        return PlainPipeline(model).eval()
    return P.load_pipeline(a.pipeline, a.profile, ckpt)


def cmd_evaluate(a) -> int:
    import torch

    from baa import pipelines as P
    from baa.data import load
    from baa.metrics import summary
    from baa.profiles import get_profile

    pipe = _pipeline(a)
    size = get_profile(a.profile).image_size
    data = load(a.data, a.format, size=size, progress=False)
    x = P.degraded_set(data.images, a.degrade) if a.degrade != "none" else data.images
    pred, _ = P.run_pipeline(pipe, x)
    res = summary(pred, data.age)
    res.update({"pipeline": a.pipeline, "degrade": a.degrade, "profile": get_profile(a.profile).name,
                "data": data.source, "units": "years"})
    _json_out(res)
    return 0


def cmd_book(a) -> int:
    from baa.book import main as book_main

    return book_main(["--profile", a.profile] + (["--skip-build"] if a.skip_build else []))


# -- the parser ---------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="baa", description="Bone age assessment for real-world X-ray images (Guo et al. 2020).")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("data", help="summarise a dataset folder as JSON")
    s.add_argument("dir")
    s.add_argument("--format", choices=["rsna", "dha", "csv"], default="rsna")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser("phantom", help="write synthetic hand radiographs in the RSNA layout")
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--size", type=int, default=256)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--bits", type=int, choices=[8, 16], default=8)
    s.add_argument("--out", required=True)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_phantom)

    from baa import degrade as D

    s = sub.add_parser("degrade", help="apply a degradation of section 3.1.2 to one image")
    s.add_argument("input")
    s.add_argument("output")
    s.add_argument("--kind", choices=["noise", "label", "lowres", "all"], required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--photons", type=float, default=D.PHOTONS, help="incident photons per pixel (noise)")
    s.add_argument("--label-min", type=float, default=D.LABEL_FRACTION[0], help="smallest label side / image side")
    s.add_argument("--label-max", type=float, default=D.LABEL_FRACTION[1], help="largest label side / image side")
    s.add_argument("--factor", type=int, default=D.LOWRES_FACTOR, help="resolution reduction (lowres)")
    s.add_argument("--bits", type=int, choices=[8, 16], default=8)
    s.set_defaults(fn=cmd_degrade)

    s = sub.add_parser("train", help="train one network (works under torchrun for DDP)")
    s.add_argument("--task", choices=["regressor", "classifier", "restorer"], default="regressor")
    s.add_argument("--data", help="dataset folder or CSV (default: the profile's phantom training set)")
    s.add_argument("--format", choices=["rsna", "dha", "csv"], default="rsna")
    s.add_argument("--profile", default=None, help="smoke, cpu or paper (default: $BAA_PROFILE or cpu)")
    s.add_argument("--loss", choices=["mae", "mse"], default="mae", help="eq. 5 or eq. 6 (regressor)")
    s.add_argument("--all-qualities", action="store_true", help="train on every quality (NQ)")
    s.add_argument("--kinds", help="comma-separated degradations for a restorer (default: DQ's mix)")
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--device", default=None)
    s.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("evaluate", help="MAE, MdAE and CCS of a pipeline on a labelled dataset")
    s.add_argument("--data", required=True)
    s.add_argument("--format", choices=["rsna", "dha", "csv"], default="rsna")
    s.add_argument("--profile", default=None)
    s.add_argument("--checkpoint", default=None, help="a BoNet+ checkpoint, or a folder of checkpoints")
    s.add_argument("--pipeline", choices=["plain", "nq", "dq", "cq"], default="dq")
    s.add_argument("--degrade", choices=["none", "noise", "label", "lowres", "all"], default="none")
    s.set_defaults(fn=cmd_evaluate)

    s = sub.add_parser("book", help="execute the notebooks and build the HTML book")
    s.add_argument("--profile", default=os.environ.get("BAA_PROFILE", "cpu"))
    s.add_argument("--skip-build", action="store_true")
    s.set_defaults(fn=cmd_book)

    for register in _extensions():
        register(sub)
    return ap


def _extensions():
    """Subcommands defined beside the code they run (bench, assess, restore)."""
    import importlib
    import importlib.util

    return [importlib.import_module(mod).register_cli for mod in ("baa.bench", "baa.assess")
            if importlib.util.find_spec(mod) is not None]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except InputError as e:
        print(f"baa: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        name = getattr(e, "filename", None)
        print(f"baa: {name + ': ' if name and name not in str(e) else ''}{e.strerror or e}" if name else f"baa: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("baa: interrupted", file=sys.stderr)
        return 130
