"""The paper's claims (sections 4.3-4.4), each decided against our numbers.

Layer: analysis.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from baa import paper
from baa.analysis.report import PIPELINE_NAMES, POOR


class Claim(NamedTuple):
    claim: str
    holds: bool
    evidence: str


def paper_results() -> tuple[dict, dict]:
    """The paper's own numbers shaped like ``(assessment, loss_comparison)`` results, so that
    ``claims(*paper_results())`` checks the claims against the paper itself."""
    assess = {"profile": "paper", "source": paper.DATA, "mae": {k: dict(v) for k, v in paper.TABLE4.items()},
              "mdae": {k: dict(v) for k, v in paper.TABLE5.items()}, "classifier_accuracy": paper.CLASSIFIER_ACCURACY}
    assess["mae"]["dq"]["all"], assess["mdae"]["dq"]["all"] = paper.DQ_ALL["mae"], paper.DQ_ALL["mdae"]
    loss = {k: {"mae_mean": v["mae"][0], "mae_std": v["mae"][1], "mdae_mean": v["mdae"][0], "mdae_std": v["mdae"][1]}
            for k, v in paper.TABLE2.items()}
    return assess, loss


def _beats(t: dict, a: str, b: str, qualities) -> tuple[list[str], list[str]]:
    """Which of ``qualities`` pipeline ``a`` has a lower error than ``b`` on (and the rest)."""
    won = [q for q in qualities if t[a][q] < t[b][q]]
    return won, [q for q in qualities if q not in won]


def claims(assessment: dict | None = None, loss: dict | None = None, tol: float = 0.10,
           high_tol: float = 0.05) -> list[Claim]:
    """The paper's claims (section 4.3-4.4), each checked against our numbers.

    ``assessment``: ``baa.assessment``'s dict; ``loss``: ``loss_comparison``'s. A claim
    whose numbers are missing is left out. "About equal" means within ``tol`` (relative, of the
    mean of the two) on every poor quality; "costs nothing" means within ``high_tol`` of plain
    BoNet+ on high quality. Returns ``[Claim(claim, holds, evidence)]``; the evidence names the
    numbers the decision was made on (MAE in years unless said)."""
    out: list[Claim] = []
    if loss is not None:
        a, b = loss["mae"], loss["mse"]
        holds = a["mae_mean"] < b["mae_mean"] and a["mdae_mean"] < b["mdae_mean"]
        out.append(Claim("L_MAE trains a better BoNet+ than L_MSE (Table 2)", bool(holds),
                         f"MAE {a['mae_mean']:.3f} vs {b['mae_mean']:.3f}, MdAE {a['mdae_mean']:.3f} vs {b['mdae_mean']:.3f} "
                         f"(L_MAE vs L_MSE; paper {paper.TABLE2['mae']['mae'][0]:.3f} vs {paper.TABLE2['mse']['mae'][0]:.3f})"))
    if assessment is None:
        return out
    t = assessment["mae"]
    if all(n in t for n in ("plain", "cq", "dq", "nq")):
        rel = {q: abs(t["cq"][q] - t["dq"][q]) / (0.5 * (t["cq"][q] + t["dq"][q])) for q in POOR}
        out.append(Claim(f"CQ and DQ are about equal on poor images (within {tol:.0%})", bool(max(rel.values()) <= tol),
                         "; ".join(f"{q}: CQ {t['cq'][q]:.3f}, DQ {t['dq'][q]:.3f} ({rel[q]:.1%} apart)" for q in POOR)))
        for name, claim_text in (("nq", "CQ and DQ both beat NQ on every poor quality"),
                                 ("plain", "CQ, DQ and NQ all beat plain BoNet+ on every poor quality")):
            rivals = ("cq", "dq") if name == "nq" else ("cq", "dq", "nq")
            parts, ok = [], True
            for r in rivals:
                won, lost = _beats(t, r, name, POOR)
                ok &= not lost
                parts.append(f"{PIPELINE_NAMES[r]} better on {len(won)}/{len(POOR)}" + (f" (not on {', '.join(lost)})" if lost else ""))
            ref = ", ".join(f"{q} {t[name][q]:.3f}" for q in POOR)
            out.append(Claim(claim_text, bool(ok), "; ".join(parts) + f"; {PIPELINE_NAMES[name]}: {ref}"))
        base = t["plain"]["high"]
        rel_h = {n: (t[n]["high"] - base) / base for n in ("cq", "dq")}
        out.append(Claim(f"Restoration costs nothing on high-quality images (CQ, DQ within {high_tol:.0%} of plain BoNet+)",
                         bool(all(v <= high_tol for v in rel_h.values())),
                         f"high quality: BoNet+ {base:.3f}, CQ {t['cq']['high']:.3f} ({rel_h['cq']:+.1%}), "
                         f"DQ {t['dq']['high']:.3f} ({rel_h['dq']:+.1%})"))
        out.append(Claim("Training on every quality (NQ) costs accuracy on high-quality images",
                         bool(t["nq"]["high"] > base),
                         f"high quality: NQ {t['nq']['high']:.3f} vs BoNet+ {base:.3f} (paper {paper.TABLE4['nq']['high']:.3f} vs "
                         f"{paper.TABLE4['plain']['high']:.3f})"))
        kinds = [q for q in POOR + ("all",) if q in t["dq"] and q in t["plain"]]
        won, lost = _beats(t, "dq", "plain", kinds)
        extra = ""
        if "all" in t["dq"]:
            extra = f"; all three at once: DQ {t['dq']['all']:.3f} vs BoNet+ {t['plain'].get('all', float('nan')):.3f} (paper DQ {paper.DQ_ALL['mae']:.3f})"
        out.append(Claim("One restoration model (DQ) handles every degradation, and all three at once",
                         bool(not lost), f"DQ better than plain BoNet+ on {len(won)}/{len(kinds)}"
                         + (f" (not on {', '.join(lost)})" if lost else "") + extra))
    acc = assessment.get("classifier_accuracy")
    if acc is not None:
        n = int(np.sum(assessment["confusion"])) if "confusion" in assessment else None
        out.append(Claim(f"The quality classifier is over {paper.CLASSIFIER_ACCURACY:.0%} accurate", bool(acc >= paper.CLASSIFIER_ACCURACY),
                         f"accuracy {acc:.1%}" + (f" on {n} test images" if n else "")))
    return out


def claims_frame(items: list[Claim]) -> pd.DataFrame:
    df = pd.DataFrame([c._asdict() for c in items], columns=list(Claim._fields))
    df["holds"] = df["holds"].map({True: "holds", False: "does not hold"})
    return df


def claims_markdown(items: list[Claim], data: str = "") -> str:
    """A markdown list: each claim, whether it holds (✅ / ❌) and its evidence."""
    lines = [f"- {'✅ holds' if c.holds else '❌ does not hold'}: **{c.claim}**. {c.evidence}." for c in items]
    n = sum(c.holds for c in items)
    head = f"{n} of {len(items)} claims hold" + (f" on {data}" if data else "") + ":\n\n"
    return head + "\n".join(lines)
