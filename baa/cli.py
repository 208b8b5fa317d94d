"""The ``baa`` command (also ``python -m baa``): every subcommand. Here a ``--profile`` name is
resolved (``get_profile``) and handed to the library as a ``Profile``.

Bad input (a missing or unreadable file, a CSV without the needed columns, an empty dataset) gets
one line naming the file and the problem on stderr and exit code 2, never a traceback; nothing is
left half-written.

Layer: cli (the top: nothing in the package imports it).
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
from baa.analysis.bench import format_table
from baa.analysis.bench import run as run_bench
from baa.assess.assess import RESTORE_SCALES, TTA_VIEWS, assess_files, restore_file
from baa.assess.assess import line as assess_line
from baa.book.build import main as book_main
from baa.data import summarize
from baa.errors import InputError
from baa.experiments import calibrate
from baa.experiments.artifacts import artifact_dir
from baa.experiments.datasets import dataset
from baa.experiments.tables import DQ_KINDS, PIPELINE_CHECKPOINTS, degraded_set, load_pipeline, train_config
from baa.io import read_image, save_image
from baa.metrics import summary
from baa.models import BoNetPlus, QualityClassifier, ResUNet
from baa.paper import KINDS, QUALITIES
from baa.phantom import write_rsna
from baa.profiles import DEFAULT_PROFILE, PROFILES, get_profile
from baa.train import REGRESSOR_RECIPES, fit_classifier, fit_regressor, fit_restorer, pick_device
from baa.data.real import load_prepared
from baa.experiments.tables import pipeline_ages, trained_size


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


def _start_ranks() -> int:
    """The world size; under torchrun, joins the process group (NCCL on GPUs, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return world


def cmd_train(a) -> int:
    p = get_profile(a.profile)
    world = _start_ranks()
    try:
        # a real dataset's films are prepared as `baa assess` prepares them (one preparation path)
        data = dataset(p, "train", progress=False) if a.data is None else load_prepared(a.data, a.format, p.image_size)[0]
        cfg = train_config(p, a.task, 0, progress=not a.quiet)
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
            t = fit_regressor(BoNetPlus(width=p.width), data.tensors(), cfg, loss=a.loss,
                              qualities=QUALITIES if a.all_qualities else None, recipe=a.recipe, **kw)
        elif a.task == "classifier":
            t = fit_classifier(QualityClassifier(width=p.classifier_width, hidden=p.classifier_hidden or None),
                               data.tensors(), cfg, **kw)
        else:
            kinds = tuple(a.kinds.split(",")) if a.kinds else DQ_KINDS
            t = fit_restorer(ResUNet(width=p.width, depth=p.resunet_depth), data.tensors(), cfg, kinds=kinds, **kw)
        if t.rank == 0:
            _json_out({"checkpoint": str(out), "device": str(pick_device(cfg.device)), "world_size": world,
                       "history": t.history})
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def cmd_evaluate(a) -> int:
    p = get_profile(a.profile)
    pipe = load_pipeline(a.pipeline, a.checkpoint or p)
    # every film prepared as `baa assess` prepares it, at the size the models were trained at
    data, left_out = load_prepared(a.data, a.format, trained_size(a.checkpoint or p) or p.image_size, progress=False)
    x = degraded_set(data.images, a.degrade) if a.degrade != "none" else data.images
    pred = pipeline_ages(pipe, x, a.tta)
    res = summary(pred, data.age)
    res.update({"pipeline": a.pipeline, "degrade": a.degrade, "profile": p.name, "data": data.source, "units": "years",
                "tta_views": max(1, a.tta), "left_out": [{"file": f, "reason": r} for f, r in left_out]})
    if a.per_image:
        res["per_image"] = [{"file": f, "bone_age_years": round(float(v), 3), "true_years": round(float(t), 3)}
                            for f, v, t in zip(data.extra["path"], pred, data.age)]
    _json_out(res)
    return 0


def cmd_book(a) -> int:
    return book_main(["--profile", get_profile(a.profile).name, "--format", a.format] + (["--skip-build"] if a.skip_build else [])
                     + (["--data", a.data] if a.data else []) + (["--test-data", a.test_data] if a.test_data else []))


def cmd_bench(a) -> int:
    p = get_profile(a.profile)
    parts = tuple(a.only) if a.only else ("restoration", "speed")
    out = Path(a.out) if a.out else artifact_dir(p) / "bench.json"
    res = run_bench(p, out, quick=a.quick, parts=parts, device=a.device, progress=not a.quiet,
                    compile=False if a.no_compile else None)
    print(format_table(res))
    print(f"\nwritten: {out}")
    return 0


def _add_bench(subparsers) -> None:
    """``baa bench --profile P --out FILE.json [--quick]``."""
    s = subparsers.add_parser("bench", help="restoration quality and speed: classical vs ResUNet, FLOPs, latency, throughput")
    s.add_argument("--profile", default=None, choices=list(PROFILES), help=PROFILE_HELP)
    s.add_argument("--out", default=None, help="JSON file (default: artifacts/<profile>/bench.json), written atomically")
    s.add_argument("--quick", action="store_true", help="fewer images and iterations, no torch.compile")
    s.add_argument("--only", nargs="*", choices=["restoration", "speed"], help="run only these sections")
    s.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, ...")
    s.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_bench)


def _assess_pipeline(a) -> str:
    """The shipped model (baa/weights) when nothing names trained models: no --pipeline, --profile,
    --checkpoint or $BAA_PROFILE; otherwise the trained pipeline asked for (default DQ)."""
    if a.pipeline:
        return a.pipeline
    named = a.profile or a.checkpoint or os.environ.get("BAA_PROFILE")
    return "dq" if named else "shipped"


def cmd_assess(a) -> int:
    male = None if a.sex is None else float(a.sex.upper() == "M")
    try:
        results = assess_files(a.files, _assess_pipeline(a), a.profile, a.checkpoint, male, a.save_restored, a.tta,
                               a.force)
    except FileNotFoundError as e:
        print(f"baa: {e}", file=sys.stderr)
        return 2
    failed = 0
    for r in results:
        if "error" in r:
            failed += 1
            if a.json:  # {"file", "error"}, and "refused": true from the hand check
                print(json.dumps(r), flush=True)
            else:
                print(f"baa: {r['file']}: {r['error']}", file=sys.stderr, flush=True)
        elif a.json:
            print(json.dumps(r), flush=True)
        else:
            print(assess_line(r), flush=True)
    return 2 if failed else 0


def _restore_shipped(a) -> bool:
    """The shipped film restorer (baa/weights) when nothing names trained models (as ``_assess_pipeline``)
    and the scale is the film's."""
    return not (a.profile or a.checkpoint or os.environ.get("BAA_PROFILE")) and a.scale == "film"


def cmd_restore(a) -> int:
    try:
        r = restore_file(a.input, a.output, a.profile, a.checkpoint, a.bits, a.scale, shipped=_restore_shipped(a),
                         kind=a.kind)
    except (FileNotFoundError, ValueError) as e:
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
    s.add_argument("--pipeline", choices=["shipped", "dq", "cq", "nq", "plain"], default=None,
                   help="shipped: the model in baa/weights, no training needed (the default when no --profile, "
                        "--checkpoint or $BAA_PROFILE names trained models); dq, cq, nq, plain: the paper's "
                        "pipelines trained by `make book` (default dq)")
    s.add_argument("--sex", choices=["M", "F", "m", "f"], default=None, help="used only by a BoNet+ trained with the sex")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.add_argument("--save-restored", default=None, metavar="DIR", help="write each restored, prepared image here (the shipped model: the bone maps it reads, <name>-maps.png)")
    s.add_argument("--tta", type=int, default=TTA_VIEWS, metavar="N",
                   help=f"average the age over N views of the input: itself and N-1 fixed warps of the training "
                        f"augmentation (default {TTA_VIEWS}; 1 turns it off)")
    s.add_argument("--force", action="store_true",
                   help="assess a file the hand check refuses (not a hand radiograph); the result says "
                        "\"forced\": true and carries the reason as a warning")
    s.set_defaults(fn=cmd_assess)

    s = sub.add_parser("restore", help="restoration of one image at the film's own size and pixel scale: the shipped "
                                       "film-scale ResUNet, or a profile's DQ ResUNet")
    s.add_argument("input", metavar="IN")
    s.add_argument("output", metavar="OUT")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--profile", default=None, help="use artifacts/<profile>/models' DQ ResUNet (default, when neither "
                                                   "this, --checkpoint nor $BAA_PROFILE is given: the shipped film restorer)")
    g.add_argument("--checkpoint", default=None, help="a folder of checkpoints")
    s.add_argument("--bits", type=int, choices=[8, 16], default=8)
    s.add_argument("--scale", choices=RESTORE_SCALES, default="film",
                   help="film: the ResUNet runs on the film at its own pixel scale, in overlapping tiles (default); "
                        "network: once on the film resized to the network's input, its residual upsampled and added")
    s.add_argument("--kind", choices=["auto", "any", "lowres"], default="auto",
                   help="auto: the shipped router picks (default): the low-resolution expert for a film whose finest "
                        "detail band is nearly empty, else the blind restorer; any: the blind restorer (it leaves a "
                        "blur as it is); lowres: the expert for a 4x low-resolution film (shipped restorers "
                        "only; with --profile or --checkpoint the DQ restorer restores every kind)")
    s.set_defaults(fn=cmd_restore)


def cmd_calibrate(a) -> int:
    calibrate.calibration(a.size, a.width, a.n_train, a.n_test, a.epochs, a.seed, amp_cpu=not a.fp32,
                          cnn=not a.skip_cnn, out=a.out, log=lambda line: print(line, flush=True))
    return 0


def _add_calibrate(subparsers) -> None:
    """``baa calibrate``: how hard the phantom is (``baa.experiments.calibrate``)."""
    s = subparsers.add_parser("calibrate", help="how hard the phantom is: a perfect stage reader, a linear model, BoNet+")
    s.add_argument("--size", type=int, default=128)
    s.add_argument("--width", type=float, default=0.5)
    s.add_argument("--n-train", type=int, default=1120)
    s.add_argument("--n-test", type=int, default=400)
    s.add_argument("--epochs", type=int, default=60)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--fp32", action="store_true", help="no bf16 autocast on the CPU")
    s.add_argument("--skip-cnn", action="store_true", help="only the stage reader and the linear model")
    s.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    s.set_defaults(fn=cmd_calibrate)


# -- the parser ---------------------------------------------------------------------------------------

PROFILE_HELP = f"{', '.join(PROFILES)} (default: $BAA_PROFILE or {DEFAULT_PROFILE})"

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
    s.add_argument("--kind", choices=[*KINDS, "all"], required=True)
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
    s.add_argument("--profile", default=None, choices=list(PROFILES), help=PROFILE_HELP)
    s.add_argument("--loss", choices=["mae", "mse"], default="mae", help="eq. 5 or eq. 6 (regressor)")
    s.add_argument("--all-qualities", action="store_true", help="train on every quality (NQ)")
    s.add_argument("--recipe", choices=REGRESSOR_RECIPES, default="paper",
                   help="regressor: section 4.1's augmentation only (paper), or ours (beyond: half warped, blur, precise BN)")
    s.add_argument("--kinds", help="comma-separated degradations for a restorer (default: DQ's mix)")
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--device", default=None)
    s.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("evaluate", help="MAE, MdAE and CCS of a pipeline on a labelled dataset")
    s.add_argument("--data", required=True)
    s.add_argument("--format", choices=["rsna", "dha", "csv"], default="rsna")
    s.add_argument("--profile", default=None, choices=list(PROFILES), help=PROFILE_HELP)
    s.add_argument("--checkpoint", default=None, help="a BoNet+ checkpoint, or a folder of checkpoints")
    s.add_argument("--pipeline", choices=list(PIPELINE_CHECKPOINTS), default="dq",
                   help="Fig. 10's pipeline as the paper builds it, or with _beyond: BoNet+ of our recipe")
    s.add_argument("--degrade", choices=["none", *KINDS, "all"], default="none")
    s.add_argument("--tta", type=int, default=TTA_VIEWS, metavar="N",
                   help=f"the age of a film is the mean over N views, as `baa assess --tta N` (default {TTA_VIEWS})")
    s.add_argument("--per-image", action="store_true", help="list every film's age beside its label")
    s.set_defaults(fn=cmd_evaluate)

    s = sub.add_parser("book", help="execute the notebooks and build the HTML book")
    s.add_argument("--profile", default=None, choices=list(PROFILES), help=PROFILE_HELP)
    s.add_argument("--data", default=None, help="a labelled dataset folder or CSV (default: the phantom)")
    s.add_argument("--format", choices=["rsna", "dha", "csv"], default="rsna")
    s.add_argument("--test-data", default=None, help="a separate held-out test set (default: a part of --data)")
    s.add_argument("--skip-build", action="store_true")
    s.set_defaults(fn=cmd_book)

    _add_bench(sub)
    _add_calibrate(sub)
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
