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

import torch
import torch.distributed as dist

from baa import degrade as D
from baa.analysis.bench import format_table, run as run_bench
from baa.assess.assess import TTA_VIEWS, assess_files, line as assess_line, restore_file
from baa.book.build import main as book_main
from baa.data import load, summarize
from baa.errors import InputError
from baa.experiments import tables as P
from baa.experiments.artifacts import artifact_dir
from baa.io import read_image, save_image
from baa.metrics import summary
from baa.models import BoNetPlus, PlainPipeline, QualityClassifier, ResUNet
from baa.phantom import write_rsna
from baa.profiles import get_profile
from baa.train import fit_classifier, fit_regressor, fit_restorer, load_checkpoint, pick_device


def _json_out(obj) -> None:
    print(json.dumps(obj, indent=1))


# -- subcommands ------------------------------------------------------------------------------------

def cmd_data(a) -> int:

    _json_out(summarize(a.dir, a.format, progress=False))
    return 0


def cmd_phantom(a) -> int:

    _json_out(write_rsna(a.out, n=a.n, size=a.size, seed=a.seed, bits=a.bits, progress=not a.quiet))
    return 0


def cmd_degrade(a) -> int:


    img = torch.from_numpy(read_image(a.input, fix_polarity=False))[None, None]
    out = D.degrade(img, a.kind, a.seed, photons=a.photons, label_fraction=(a.label_min, a.label_max), factor=a.factor)
    save_image(out[0, 0].numpy(), Path(a.output), a.bits)
    return 0


def cmd_train(a) -> int:


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
        cfg = P.train_config(p, a.task, 0, progress=not a.quiet)
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

    ckpt = getattr(a, "checkpoint", None)
    if ckpt and Path(ckpt).is_file():

        model, state = load_checkpoint(ckpt)
        if state["spec"]["name"] != "BoNetPlus":
            raise InputError(ckpt, f"holds a {state['spec']['name']}, not a BoNet+; pass a folder of checkpoints for dq/cq")
        return PlainPipeline(model).eval()
    return P.load_pipeline(a.pipeline, a.profile, ckpt)


def cmd_evaluate(a) -> int:


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

    return book_main(["--profile", a.profile] + (["--skip-build"] if a.skip_build else []))


def cmd_bench(a) -> int:
    parts = tuple(a.only) if a.only else ("restoration", "speed")
    out = Path(a.out) if a.out else artifact_dir(a.profile) / "bench.json"
    res = run_bench(a.profile, out, quick=a.quick, parts=parts, device=a.device, progress=not a.quiet,
              compile=False if a.no_compile else None)
    print(format_table(res))
    print(f"\nwritten: {out}")
    return 0


def _add_bench(subparsers) -> None:
    """``baa bench --profile P --out FILE.json [--quick]``."""
    s = subparsers.add_parser("bench", help="restoration quality and speed: classical vs ResUNet, FLOPs, latency, throughput")
    s.add_argument("--profile", default=None, help="smoke, cpu or paper (default: $BAA_PROFILE or cpu)")
    s.add_argument("--out", default=None, help="JSON file (default: artifacts/<profile>/bench.json), written atomically")
    s.add_argument("--quick", action="store_true", help="fewer images and iterations, no torch.compile")
    s.add_argument("--only", nargs="*", choices=["restoration", "speed"], help="run only these sections")
    s.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, ...")
    s.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_bench)


def cmd_assess(a) -> int:
    male = None if a.sex is None else float(a.sex.upper() == "M")
    try:
        results = assess_files(a.files, a.pipeline, a.profile, a.checkpoint, male, a.save_restored, a.tta)
    except FileNotFoundError as e:
        print(f"baa: {e}", file=sys.stderr)
        return 2
    failed = 0
    for r in results:
        if "error" in r:
            failed += 1
            if a.json:
                print(json.dumps({"file": r["file"], "error": r["error"]}), flush=True)
            else:
                print(f"baa: {r['file']}: {r['error']}", file=sys.stderr, flush=True)
        elif a.json:
            print(json.dumps(r), flush=True)
        else:
            print(assess_line(r), flush=True)
    return 2 if failed else 0


def cmd_restore(a) -> int:
    try:
        r = restore_file(a.input, a.output, a.profile, a.checkpoint, a.bits)
    except FileNotFoundError as e:
        print(f"baa: {e}", file=sys.stderr)
        return 2
    print(json.dumps(r))
    return 0


def _add_assess(sub) -> None:
    """``baa assess`` and ``baa restore``."""
    s = sub.add_parser("assess", help="bone age of radiograph files (PNG, JPEG, TIFF, DICOM), one result per file")
    s.add_argument("files", nargs="+", metavar="FILE")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--profile", default=None, help="use artifacts/<profile>/models (default: $BAA_PROFILE or cpu)")
    g.add_argument("--checkpoint", default=None, help="a folder of checkpoints, or one BoNet+ checkpoint")
    s.add_argument("--pipeline", choices=["dq", "cq", "nq", "plain"], default="dq")
    s.add_argument("--sex", choices=["M", "F", "m", "f"], default=None, help="used only by a BoNet+ trained with the sex")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.add_argument("--save-restored", default=None, metavar="DIR", help="write each restored, prepared image here")
    s.add_argument("--tta", type=int, default=TTA_VIEWS, metavar="N",
                   help=f"average the age over N views of the input: itself and N-1 fixed warps of the training "
                        f"augmentation (default {TTA_VIEWS}; 1 turns it off)")
    s.set_defaults(fn=cmd_assess)

    s = sub.add_parser("restore", help="DQ restoration of one image, saved at the input's size")
    s.add_argument("input", metavar="IN")
    s.add_argument("output", metavar="OUT")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--profile", default=None)
    g.add_argument("--checkpoint", default=None, help="a folder of checkpoints")
    s.add_argument("--bits", type=int, choices=[8, 16], default=8)
    s.set_defaults(fn=cmd_restore)


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

    _add_bench(sub)
    _add_assess(sub)
    return ap


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
