"""The paper's claims (sections 4.3-4.4), each decided with its uncertainty.

Every claim is a statement about a difference of errors on the same test images (or about an
accuracy). Its estimate and 95 % interval come from a paired bootstrap over the test images (pooled
over the folds where there are folds, Table 2), and its verdict from where the interval lies against
the claim's bound (0, or the paper's own threshold such as "over 98 %"):

- ``holds``: the whole interval is on the claim's side of the bound;
- ``fails``: the whole interval is on the other side;
- ``undecided``: the interval holds the bound, so this sample cannot tell.

A claim about several comparisons (e.g. "on every poor quality") holds when each part holds and fails
when any part fails; its estimate and interval are those of its least favourable part.

Layer: analysis.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from baa import paper
from baa.io.atomic import save_json
from baa.paper import KINDS, PIPELINE_NAMES

VERDICTS = ("holds", "fails", "undecided")
N_BOOT = 4000
LEVEL = 0.95
EQUAL_WITHIN = 0.10  # "about equal": CQ and DQ within 10 % of their mean MAE on each poor quality
FREE_WITHIN = 0.05  # "costs nothing": CQ and DQ within 5 % of plain BoNet+ on high quality


@dataclass
class Claim:
    """One claim: its ``verdict``, ``estimate`` and ``ci95`` in the claim's ``unit`` (``years``,
    ``percent`` or ``fraction``), the numbers it was decided on (``evidence``) and its ``parts``."""

    claim: str
    verdict: str
    estimate: float
    ci95: tuple[float, float]
    unit: str
    evidence: str = ""
    parts: list[dict] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def to_json(self) -> dict:
        d = asdict(self)
        d["ci95"] = [float(self.ci95[0]), float(self.ci95[1])]
        return d


# -- the decision -----------------------------------------------------------------------------------

def verdict_below(ci: tuple[float, float], bound: float = 0.0) -> str:
    """The claim "the value is below ``bound``" (e.g. a difference of MAEs below 0)."""
    lo, hi = ci
    return "holds" if hi < bound else "fails" if lo > bound else "undecided"


def verdict_above(ci: tuple[float, float], bound: float = 0.0) -> str:
    """The claim "the value is above ``bound``" (e.g. an accuracy above 98 %; the paper's own "over
    98 %", a point at the bound, counts as holding)."""
    lo, hi = ci
    return "holds" if lo >= bound else "fails" if hi < bound else "undecided"


def verdict_within(ci: tuple[float, float], margin: float) -> str:
    """The claim "the value lies within ±``margin``" (equivalence): holds when the whole interval is
    inside, fails when the whole interval is outside on one side."""
    lo, hi = ci
    if -margin <= lo and hi <= margin:
        return "holds"
    return "fails" if lo > margin or hi < -margin else "undecided"


def combine(verdicts: Sequence[str]) -> str:
    """All parts hold: holds; any part fails: fails; otherwise undecided."""
    if any(v == "fails" for v in verdicts):
        return "fails"
    return "holds" if all(v == "holds" for v in verdicts) else "undecided"


def bootstrap(stat: Callable[..., float], *samples, n_boot: int = N_BOOT, level: float = LEVEL,
              seed: int = 0) -> tuple[float, tuple[float, float]]:
    """``stat(*samples)`` and its percentile bootstrap interval: the images (the rows every sample
    shares, so pairs stay together) are resampled with replacement. Seeded: same input, same interval."""
    arrays = [np.asarray(s, dtype=np.float64) for s in samples]
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError(f"need samples of one non-zero length, got {[len(a) for a in arrays]}")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    boots = np.array([stat(*(a[i] for a in arrays)) for i in idx])
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return float(stat(*arrays)), (float(lo), float(hi))


def _diff(a, b):
    return a.mean() - b.mean()


def _rel_to_mean(a, b):
    return (a.mean() - b.mean()) / (0.5 * (a.mean() + b.mean()))


def _rel_to_b(a, b):
    return (a.mean() - b.mean()) / b.mean()


# -- the parts of a claim ---------------------------------------------------------------------------

def _errors(assessment: dict, pipeline: str, quality: str) -> np.ndarray | None:
    pred = assessment.get("pred", {}).get(pipeline, {}).get(quality)
    if pred is None or "true" not in assessment:
        return None
    return np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(assessment["true"], dtype=np.float64))


def _part(assessment: dict, a: str, b: str, q: str, stat, decide, seed: int, n_boot: int) -> dict:
    """Pipeline ``a`` against ``b`` on quality ``q``: from per-image errors when the results hold
    them, else from the MAEs alone (a point, as for the paper's own numbers)."""
    ea, eb = _errors(assessment, a, q), _errors(assessment, b, q)
    if ea is not None and eb is not None:
        est, ci = bootstrap(stat, ea, eb, n_boot=n_boot, seed=seed)
    else:
        est = float(stat(np.array([assessment["mae"][a][q]]), np.array([assessment["mae"][b][q]])))
        ci = (est, est)
    return {"a": a, "b": b, "quality": q, "estimate": est, "ci95": list(ci), "verdict": decide(ci)}


def _claim(text: str, unit: str, parts: list[dict], worst: Callable[[dict], float], fmt: Callable[[dict], str]) -> Claim:
    """A claim made of ``parts``; its estimate and interval are those of the part ``worst`` ranks
    highest (the least favourable)."""
    w = max(parts, key=worst)
    return Claim(text, combine([p["verdict"] for p in parts]), w["estimate"], tuple(w["ci95"]), unit,
                 "; ".join(fmt(p) for p in parts), parts)


def _pm(p: dict, scale: float = 1.0, digits: int = 3) -> str:
    lo, hi = p["ci95"]
    return f"{p['estimate'] * scale:+.{digits}f} [{lo * scale:+.{digits}f}, {hi * scale:+.{digits}f}]"


# -- the claims -------------------------------------------------------------------------------------

def loss_claim(loss: dict, n_boot: int = N_BOOT, seed: int = 0) -> Claim:
    """Table 2: L_MAE trains a better BoNet+ than L_MSE. The MAE difference (L_MAE - L_MSE, years)
    over the validation images of every fold trained, pooled; from the fold means when the
    per-image predictions are absent (the paper's own numbers)."""
    a, b = loss["mae"], loss["mse"]
    if "folds" in a and "folds" in b and all("pred" in f for f in a["folds"] + b["folds"]):
        ea = np.concatenate([np.abs(np.subtract(f["pred"], f["true"])) for f in a["folds"]])
        eb = np.concatenate([np.abs(np.subtract(f["pred"], f["true"])) for f in b["folds"]])
        est, ci = bootstrap(_diff, ea, eb, n_boot=n_boot, seed=seed)
        n = f"{len(ea)} validation images of {len(a['folds'])} folds"
    else:
        est = a["mae_mean"] - b["mae_mean"]
        ci, n = (est, est), "the fold means (no interval)"
    part = {"a": "mae", "b": "mse", "quality": "high", "estimate": est, "ci95": list(ci), "verdict": verdict_below(ci)}
    return Claim("L_MAE trains a better BoNet+ than L_MSE (Table 2)", part["verdict"], est, ci, "years",
                 f"MAE(L_MAE) - MAE(L_MSE) = {_pm(part)} y over {n} (paper {paper.TABLE2['mae']['mae'][0]:.3f} vs "
                 f"{paper.TABLE2['mse']['mae'][0]:.3f})", [part])


def classifier_claim(assessment: dict, n_boot: int = N_BOOT, seed: int = 0) -> Claim:
    """The quality classifier is over 98 % accurate (section 4.4): the accuracy in percent over the
    test images of every quality, its interval from resampling those images."""
    bound = 100 * paper.CLASSIFIER_ACCURACY
    conf = np.asarray(assessment.get("confusion", []))
    if conf.size:
        right = int(np.trace(conf))
        correct = np.repeat([1.0, 0.0], [right, int(conf.sum()) - right])
        est, ci = bootstrap(lambda c: 100 * c.mean(), correct, n_boot=n_boot, seed=seed)
        n = f"{int(conf.sum())} test images"
    else:
        est = 100 * assessment["classifier_accuracy"]
        ci, n = (est, est), "no interval"
    return Claim(f"The quality classifier is over {bound:.0f} % accurate", verdict_above(ci, bound), est, ci, "percent",
                 f"accuracy {est:.1f} % [{ci[0]:.1f}, {ci[1]:.1f}] on {n}")


def assessment_claims(assessment: dict, n_boot: int = N_BOOT, seed: int = 0) -> list[Claim]:
    """Tables 4-5: the claims about CQ, DQ, NQ and plain BoNet+ on each quality."""
    t = assessment["mae"]
    if not all(n in t for n in ("plain", "cq", "dq", "nq")):
        return []
    kw = dict(seed=seed, n_boot=n_boot)
    name = PIPELINE_NAMES
    out = []
    parts = [_part(assessment, "cq", "dq", q, _rel_to_mean, lambda ci: verdict_within(ci, EQUAL_WITHIN), **kw) for q in KINDS]
    out.append(_claim(f"CQ and DQ are about equal on poor images (within {EQUAL_WITHIN:.0%} of their mean MAE)", "fraction",
                      parts, lambda p: max(abs(p["ci95"][0]), abs(p["ci95"][1])),
                      lambda p: f"{p['quality']}: (CQ - DQ) / mean {_pm(p, 100, 1)} %"))
    for b, rivals, text in (("nq", ("cq", "dq"), "CQ and DQ both beat NQ on every poor quality"),
                            ("plain", ("cq", "dq", "nq"), "CQ, DQ and NQ all beat plain BoNet+ on every poor quality")):
        parts = [_part(assessment, a, b, q, _diff, verdict_below, **kw) for a in rivals for q in KINDS]
        out.append(_claim(text, "years", parts, lambda p: p["ci95"][1],
                          lambda p: f"{name[p['a']]} - {name[p['b']]} on {p['quality']}: {_pm(p)} y"))
    parts = [_part(assessment, a, "plain", "high", _rel_to_b, lambda ci: verdict_below(ci, FREE_WITHIN), **kw)
             for a in ("cq", "dq")]
    out.append(_claim(f"Restoration costs nothing on high-quality images (CQ, DQ within {FREE_WITHIN:.0%} of plain BoNet+)",
                      "fraction", parts, lambda p: p["ci95"][1],
                      lambda p: f"({name[p['a']]} - BoNet+) / BoNet+ on high {_pm(p, 100, 1)} %"))
    parts = [_part(assessment, "plain", "nq", "high", _diff, verdict_below, **kw)]
    gap = paper.TABLE4["plain"]["high"] - paper.TABLE4["nq"]["high"]
    out.append(_claim("Training on every quality (NQ) costs accuracy on high-quality images", "years", parts,
                      lambda p: p["ci95"][1], lambda p: f"BoNet+ - NQ on high: {_pm(p)} y (paper {gap:+.3f})"))
    kinds = [q for q in KINDS + ("all",) if q in t["dq"] and q in t["plain"]]
    parts = [_part(assessment, "dq", "plain", q, _diff, verdict_below, **kw) for q in kinds]
    out.append(_claim("One restoration model (DQ) handles every degradation, and all three at once", "years", parts,
                      lambda p: p["ci95"][1], lambda p: f"DQ - BoNet+ on {p['quality']}: {_pm(p)} y"))
    return out


def claims(assessment: dict | None = None, loss: dict | None = None, n_boot: int = N_BOOT, seed: int = 0) -> list[Claim]:
    """Every claim whose numbers are given: Table 2's (``loss``: ``loss_comparison``'s result) and
    Tables 4-5's and the classifier's (``assessment``: ``assessment``'s result)."""
    out = [loss_claim(loss, n_boot, seed)] if loss is not None else []
    if assessment is not None:
        out += assessment_claims(assessment, n_boot, seed)
        if "classifier_accuracy" in assessment:
            out.append(classifier_claim(assessment, n_boot, seed))
    return out


def paper_results() -> tuple[dict, dict]:
    """The paper's own numbers shaped like ``(assessment, loss_comparison)`` results, so that
    ``claims(*paper_results())`` checks the claims against the paper itself (points, no intervals)."""
    assess = {"profile": "paper", "source": paper.DATA, "mae": {k: dict(v) for k, v in paper.TABLE4.items()},
              "mdae": {k: dict(v) for k, v in paper.TABLE5.items()}, "classifier_accuracy": paper.CLASSIFIER_ACCURACY}
    assess["mae"]["dq"]["all"], assess["mdae"]["dq"]["all"] = paper.DQ_ALL["mae"], paper.DQ_ALL["mdae"]
    loss = {k: {"mae_mean": v["mae"][0], "mae_std": v["mae"][1], "mdae_mean": v["mdae"][0], "mdae_std": v["mdae"][1]}
            for k, v in paper.TABLE2.items()}
    return assess, loss


BEYOND = paper.BEYOND_SUFFIX


def recipe_view(assessment: dict) -> dict | None:
    """``assessment`` with each pipeline's beyond-the-paper results (BoNet+ of our recipe,
    ``tables.build_pipelines``) under the paper pipeline's name, so that ``assessment_claims``
    decides the claims on them; ``None`` when it has none."""
    if not any(k.endswith(BEYOND) for k in assessment.get("mae", {})):
        return None
    out = dict(assessment)
    for key in ("mae", "mdae", "pred", "ccs"):
        if key in assessment:
            out[key] = {**assessment[key], **{k.removesuffix(BEYOND): v for k, v in assessment[key].items() if k.endswith(BEYOND)}}
    return out


def claims_by_recipe(assessment: dict, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame | None:
    """Tables 4-5's claims decided twice on the same test images: with BoNet+ as the paper trains it
    and with our recipe. A claim whose verdict differs depends on how the baseline was trained, not
    only on restoration. ``None`` when ``assessment`` has no beyond-the-paper results."""
    ours = recipe_view(assessment)
    if ours is None:
        return None
    return _side_by_side(assessment, ours, "paper's BoNet+", "our BoNet+ (beyond the paper)", "depends on the recipe",
                         n_boot, seed)


def dq_budget_view(assessment: dict, budget: dict) -> dict:
    """``assessment`` with DQ's results replaced by those of the DQ trained on the experts' budget
    (``experiments.dq_budget``: the same plain BoNet+ and test images)."""
    out = dict(assessment)
    for key in ("mae", "mdae", "pred"):
        if key in assessment and key in budget:
            out[key] = {**assessment[key], "dq": dict(budget[key])}
    return out


def claims_by_dq_budget(assessment: dict, budget: dict | None, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame | None:
    """Tables 4-5's claims decided twice on the same test images: with the book's DQ (one expert's epochs
    for five kinds) and with DQ trained on the three experts' epochs together. A claim whose verdict
    changes failed for DQ's training budget, not for its design. ``None`` without ``budget``."""
    if budget is None:
        return None
    return _side_by_side(assessment, dq_budget_view(assessment, budget), "DQ of the book",
                         f"DQ on {budget['factor']}x the epochs", "changes with DQ's budget", n_boot, seed)


def _side_by_side(a: dict, b: dict, col_a: str, col_b: str, changed: str, n_boot: int, seed: int) -> pd.DataFrame:
    rows = []
    for x, y in zip(assessment_claims(a, n_boot, seed), assessment_claims(b, n_boot, seed)):
        rows.append({"claim": x.claim, col_a: f"{x.verdict}: {interval_text(x)}", col_b: f"{y.verdict}: {interval_text(y)}",
                     changed: x.verdict != y.verdict})
    return pd.DataFrame(rows)


# -- presenting them --------------------------------------------------------------------------------

MARK = {"holds": "✅ holds", "fails": "❌ fails", "undecided": "❔ undecided"}


def interval_text(c: Claim) -> str:
    """The estimate and its interval in the claim's unit."""
    lo, hi = c.ci95
    if c.unit == "fraction":
        return f"{100 * c.estimate:+.1f} % [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    if c.unit == "percent":
        return f"{c.estimate:.1f} % [{lo:.1f}, {hi:.1f}]"
    return f"{c.estimate:+.3f} y [{lo:+.3f}, {hi:+.3f}]"


def claims_frame(items: list[Claim]) -> pd.DataFrame:
    return pd.DataFrame([{"claim": c.claim, "verdict": c.verdict, "estimate [95 % CI]": interval_text(c)} for c in items])


def claims_markdown(items: list[Claim], data: str = "") -> str:
    """A markdown list: each claim, its verdict, the interval it was decided on and its evidence."""
    counts = {v: sum(c.verdict == v for c in items) for v in VERDICTS}
    head = (f"Of {len(items)} claims" + (f" on {data}" if data else "") + f": {counts['holds']} hold, "
            f"{counts['fails']} fail, {counts['undecided']} undecided at this sample size.\n\n")
    return head + "\n".join(f"- {MARK[c.verdict]}: **{c.claim}**: {interval_text(c)}. {c.evidence}." for c in items)


def write_claims(items: list[Claim], path) -> None:
    """``claims.json``: ``[{"claim", "verdict", "estimate", "ci95", "unit", "evidence", "parts"}]``."""
    save_json([c.to_json() for c in items], path)


def load_claims(path) -> list[Claim]:
    """The claims a ``write_claims`` file holds."""
    return [Claim(**{**d, "ci95": tuple(d["ci95"])}) for d in json.loads(open(path).read())]
