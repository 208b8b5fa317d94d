"""Are two runs' results the same, value for value? Compares the result files of two artifact
folders (``results/*.json`` and ``bench.json``), leaving out what measures time or names the
machine: the bench's ``meta`` (date, seconds, CPU, threads), ``speed``, ``speed_extra`` (timings,
throughputs and the FLOP-rate shares derived from them) and ``targets`` (judged on timings).

    python -m baa.experiments.compare artifacts-before/smoke artifacts/smoke

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


def differences(a, b, path: str = "", ignore: tuple[str, ...] = ()) -> list[str]:
    """Paths where ``a`` and ``b`` (parsed JSON) differ, as ``path: a -> b``; keys in ``ignore`` are
    skipped at any depth. Numbers compare exactly (NaN equals NaN): same seed, same bytes."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k in ignore:
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: {'missing' if k not in a else 'present'} -> {'missing' if k not in b else 'present'}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}", ignore)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items -> {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]", ignore)]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} -> {b!r}"]


def result_files(root: Path) -> list[Path]:
    """The files compared under an artifact folder: ``bench.json`` and ``results/*.json``."""
    return sorted(p.relative_to(root) for p in [*root.glob("results/*.json"), *root.glob("bench.json")])


def compare_runs(before: str | Path, after: str | Path) -> list[str]:
    """Every difference between the result files of ``before`` and the same files of ``after``,
    timings left out (a file only ``after`` has is new, not a difference)."""
    before, after = Path(before), Path(after)
    out = []
    for f in result_files(before):
        if not (after / f).exists():
            out.append(f"{f}: missing after")
            continue
        a, b = (json.loads((d / f).read_text()) for d in (before, after))
        out += [f"{f}: {d}" for d in differences(a, b, ignore=TIMING_SECTIONS if f.name == "bench.json" else ())]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m baa.experiments.compare", description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    a = ap.parse_args(argv)
    files = result_files(Path(a.before))
    new = sorted(set(result_files(Path(a.after))) - set(files))
    diffs = compare_runs(a.before, a.after)
    print("\n".join(diffs) if diffs else f"identical: {', '.join(map(str, files))} (timings left out: bench.json's "
                                          f"{', '.join(TIMING_SECTIONS)})")
    if new:
        print(f"new after: {', '.join(map(str, new))}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
