"""Are two runs' results the same, value for value? Compares the result files of two artifact
folders (``results/*.json`` and ``bench.json``), leaving out what measures time or names the
machine: the bench's ``meta`` (date, seconds, CPU, threads), ``speed``, ``speed_extra`` (timings,
throughputs and the FLOP-rate shares derived from them) and ``targets`` (judged on timings), and
the restoration table's ``ms_per_image``. Keys the later run adds are new results, not changes.

    python -m baa.experiments.compare artifacts-before/smoke artifacts/smoke [--moved FILE:OLD=NEW]

prints every differing value (``file: path: before -> after``) and exits 1 when there is one; a
result file that only the later run writes is listed as new.

Layer: experiments.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

TIMING_SECTIONS = ("meta", "speed", "speed_extra", "targets")  # bench.json's timings and machine
TIMING_KEYS = ("ms_per_image",)  # the restoration table's time per image


def differences(a, b, path: str = "", ignore: tuple[str, ...] = (), new_ok: bool = False) -> list[str]:
    """Paths where ``a`` and ``b`` (parsed JSON) differ, as ``path: a -> b``; keys in ``ignore`` are
    skipped at any depth, and with ``new_ok`` so are keys only ``b`` has (a result added, none
    changed). Numbers compare exactly (NaN equals NaN): same seed, same bytes."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k in ignore or (new_ok and k not in a):
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: {'missing' if k not in a else 'present'} -> {'missing' if k not in b else 'present'}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}", ignore, new_ok)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items -> {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]", ignore, new_ok)]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} -> {b!r}"]


def move(obj: dict, old: str, new: str) -> dict:
    """``obj`` with the value at path ``old`` (``/a/b``) moved to path ``new``: a key renamed between runs."""
    src, dst = [k for k in old.split("/") if k], [k for k in new.split("/") if k]
    *head, last = src
    node = obj
    for k in head:
        node = node[k]
    value = node.pop(last)
    node = obj
    for k in dst[:-1]:
        node = node.setdefault(k, {})
    node[dst[-1]] = value
    return obj


def result_files(root: Path) -> list[Path]:
    """The files compared under an artifact folder: ``bench.json`` and ``results/*.json``."""
    return sorted(p.relative_to(root) for p in [*root.glob("results/*.json"), *root.glob("bench.json")])


def compare_runs(before: str | Path, after: str | Path, moved: dict[str, list[tuple[str, str]]] | None = None,
                 new_ok: bool = True) -> list[str]:
    """Every difference between the result files of ``before`` and the same files of ``after``,
    timings left out. A file, or with ``new_ok`` a key, that only ``after`` has is new, not a
    difference; ``moved`` maps a file to ``(old path, new path)`` pairs of keys renamed between them."""
    before, after = Path(before), Path(after)
    out = []
    for f in result_files(before):
        if not (after / f).exists():
            out.append(f"{f}: missing after")
            continue
        a, b = (json.loads((d / f).read_text()) for d in (before, after))
        for old, new in (moved or {}).get(f.as_posix(), []):
            a = move(a, old, new)
        ignore = TIMING_KEYS + (TIMING_SECTIONS if f.name == "bench.json" else ())
        out += [f"{f}: {d}" for d in differences(a, b, ignore=ignore, new_ok=new_ok)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.compare", description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--moved", action="append", default=[], metavar="FILE:OLD=NEW",
                    help="a key renamed between the runs, e.g. results/encodings.json:/dq=/agree/dq")
    ap.add_argument("--strict", action="store_true", help="a key only the later run has counts as a difference")
    a = ap.parse_args(argv)
    moved: dict[str, list[tuple[str, str]]] = {}
    for m in a.moved:
        f, _, rest = m.partition(":")
        old, _, new = rest.partition("=")
        moved.setdefault(f, []).append((old, new))
    files = result_files(Path(a.before))
    new = sorted(set(result_files(Path(a.after))) - set(files))
    diffs = compare_runs(a.before, a.after, moved, new_ok=not a.strict)
    print("\n".join(diffs) if diffs else f"identical: {', '.join(map(str, files))} (timings left out: bench.json's "
                                          f"{', '.join(TIMING_SECTIONS)})")
    if new:
        print(f"new after: {', '.join(map(str, new))}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
