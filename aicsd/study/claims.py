"""The claims ledger: each claim of the paper as a paired comparison over seeds, with a verdict
taken after a family-wise correction.

Runs of the same seed share the student's initialisation and the order of the training batches
(:func:`aicsd.engine.seed_everything`, the per-epoch loader seed), so a method's gain over its
control is measured as the per-seed difference ``treatment - control`` and summarised by its mean
and a paired-t 95 % interval (``scipy.stats.ttest_1samp`` on the differences). With five seeds a
bootstrap interval would rest on at most 2^5 distinct resamples and come out too narrow; the t
interval is the standard small-sample choice and assumes roughly normal per-seed differences.

The claims of :func:`paper_claims` are one family declared before the runs: testing each at 95 %
would let about one in twenty true nulls through per claim, so the verdict is taken on Holm's
step-down adjusted p-value (:func:`holm`), which keeps the chance of any false verdict in the
family at most 5 %. *Supported* when the adjusted p-value is below 0.05 and the gain positive,
*contradicted* when it is below 0.05 and the gain negative, *inconclusive* otherwise (and always
with fewer than two paired seeds). The raw verdict (the 95 % interval on one side of zero) stays
beside it, and ``detectable_gain`` states each claim's power: the paired gain that Holm's strictest
step (0.05 / family size) would call supported, from the claim's observed spread and seeds.
The mechanism claim (:func:`mechanism_claims`: ICSD students' class relations are nearer the
teacher's) asks another question on another metric; it is tested on its own, uncorrected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from aicsd.study.paper import STUDENTS

__all__ = ["Claim", "CLAIM_COLUMNS", "claims_table", "holm", "mechanism_claims", "paired_gain", "paper_claims"]

CONFIDENCE = 0.95
CLAIM_COLUMNS = [
    "claim", "treatment", "control", "metric", "n", "gain", "ci_low", "ci_high", "p_value", "raw_verdict", "p_holm",
    "verdict", "detectable_gain",
]


@dataclass(frozen=True)
class Claim:
    """``treatment`` beats ``control`` on ``metric`` (higher is better unless ``lower_is_better``).

    ``treatment`` and ``control`` select rows of a collected runs frame by column values (e.g.
    ``{"group": "main", "backbone": "resnet18", "method": "aicsd"}``); rows are paired by ``seed``.
    """

    text: str
    treatment: Mapping[str, Any]
    control: Mapping[str, Any]
    metric: str = "miou"
    lower_is_better: bool = False
    labels: tuple[str, str] = field(default=("", ""))


def _name(student: str) -> str:
    """``"ResNet-18"`` from the paper's ``"S1: ResNet-18"``."""
    return STUDENTS.get(student, student).split(": ")[-1]


def _select(df: pd.DataFrame, where: Mapping[str, Any], claim: str) -> pd.Series:
    mask = np.ones(len(df), dtype=bool)
    for column, value in where.items():
        if column not in df.columns:
            raise ValueError(f"claim {claim!r}: column {column!r} not in the runs frame")
        mask &= (df[column] == value).to_numpy()
    rows = df[mask]
    if rows["seed"].duplicated().any():
        raise ValueError(f"claim {claim!r}: selection {dict(where)} holds several runs of one seed")
    return rows.set_index("seed")


def paired_gain(df: pd.DataFrame, claim: Claim, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean per-seed gain of ``claim`` (in the metric's units, signed so that > 0 supports the
    claim), its paired-t interval, the two-sided p-value and the verdict."""
    treatment = _select(df, claim.treatment, claim.text)
    control = _select(df, claim.control, claim.text)
    seeds = treatment.index.intersection(control.index).sort_values()
    sign = -1.0 if claim.lower_is_better else 1.0
    differences = sign * (treatment.loc[seeds, claim.metric].to_numpy(float) - control.loc[seeds, claim.metric].to_numpy(float))
    out: dict[str, Any] = {
        "claim": claim.text,
        "treatment": claim.labels[0],
        "control": claim.labels[1],
        "metric": claim.metric,
        "n": len(seeds),
        "gain": float(differences.mean()) if len(seeds) else float("nan"),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "p_value": float("nan"),
        "verdict": "inconclusive",
        "differences_std": float(differences.std(ddof=1)) if len(seeds) > 1 else float("nan"),
    }
    if len(seeds) < 2:
        out["verdict"] = "inconclusive (fewer than 2 seeds)"
        return out
    if np.all(differences == differences[0]):
        out.update(ci_low=float(differences[0]), ci_high=float(differences[0]), p_value=0.0 if differences[0] else 1.0)
    else:
        result = stats.ttest_1samp(differences, 0.0)
        interval = result.confidence_interval(confidence)
        out.update(ci_low=float(interval.low), ci_high=float(interval.high), p_value=float(result.pvalue))
    if out["ci_low"] > 0:
        out["verdict"] = "supported"
    elif out["ci_high"] < 0:
        out["verdict"] = "contradicted"
    return out


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family, in the given order.

    Sorted ascending, the k-th smallest p (k from 0) is multiplied by ``m - k``; the running
    maximum keeps the adjusted values in the same order as the raw ones, capped at 1. NaN
    (a claim with fewer than two seeds) stays NaN and does not count in ``m``.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    running = 0.0
    for k, index in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[index]))
        adjusted[index] = running
    return adjusted


def claims_table(
    df: pd.DataFrame, claims: Sequence[Claim], confidence: float = CONFIDENCE, *, family: bool = True
) -> pd.DataFrame:
    """One :func:`paired_gain` row per claim whose runs and metric are in ``df`` (others are left out).

    With ``family`` (the paper's claims), ``p_holm`` is Holm's adjustment over the rows and the
    ``verdict`` is taken from it; ``raw_verdict`` is the uncorrected one. Without, the claims are
    tested one by one (``p_holm`` equals ``p_value``). ``detectable_gain``: the smallest paired
    mean gain whose t statistic clears Holm's strictest step, ``t(1 - alpha / (2 m), n - 1) * sd / sqrt(n)``
    with the observed ``sd`` of the per-seed differences (NaN below two seeds).
    """
    rows = [paired_gain(df, claim, confidence) for claim in claims if claim.metric in df.columns]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    table = table[table["n"] > 0].reset_index(drop=True)
    alpha = 1.0 - confidence
    size = int(table["p_value"].notna().sum()) if family else 1
    table["raw_verdict"] = table["verdict"]
    table["p_holm"] = holm(table["p_value"].to_numpy()) if family else table["p_value"]
    decided = table["p_holm"] < alpha
    table["verdict"] = np.where(
        table["n"] < 2,
        table["raw_verdict"],
        np.where(decided & (table["gain"] > 0), "supported", np.where(decided & (table["gain"] < 0), "contradicted", "inconclusive")),
    )
    n = table["n"].clip(lower=2).to_numpy(float)
    critical = stats.t.ppf(1.0 - alpha / (2 * max(size, 1)), n - 1)
    table["detectable_gain"] = np.where(table["n"] >= 2, critical * table["differences_std"] / np.sqrt(n), np.nan)
    return table[CLAIM_COLUMNS]


def paper_claims(students: Sequence[str], ablation_student: str) -> list[Claim]:
    """The paper's claims as :class:`Claim` objects over the book's run groups: one family, in
    this order, for Holm's adjustment (:func:`claims_table`).

    Main table (``group == "main"``, per student): AICSD > plain student, > KD, > ICKD, and beyond
    the paper > CWD, > DIST. Ablations on ``ablation_student``: ICSD alone > plain student; ALW
    helps (AICSD vs ICSD + KD with fixed weights); AICSD > ICSD alone (what KD under ALW adds);
    the paper's ICSD vs the released arithmetic, each at the weight the sweep chose for it.
    ALW per step against per epoch is measured in the ablations chapter but is no claim: the
    ``cpu`` students train three epochs, too few for the per-epoch form to be judged fairly.
    """
    claims = []
    for student in students:
        name = _name(student)

        def main(method: str) -> dict[str, Any]:
            return {"group": "main", "backbone": student, "method": method}

        for control, label in (("none", "student"), ("kd", "KD"), ("ickd", "ICKD"), ("cwd", "CWD"), ("dist", "DIST")):
            claims.append(Claim(f"AICSD > {label} ({name})", main("aicsd"), main(control), labels=("AICSD", label)))
    ablation = {"backbone": ablation_student}
    name = _name(ablation_student)
    claims += [
        Claim(
            f"ICSD alone > student ({name})",
            {"group": "components", "label": "ICSD", **ablation},
            {"group": "main", "method": "none", **ablation},
            labels=("ICSD", "student"),
        ),
        Claim(
            f"ALW helps: AICSD > ICSD + KD fixed ({name})",
            {"group": "components", "label": "ICSD + KD + ALW (AICSD)", **ablation},
            {"group": "components", "label": "ICSD + KD", **ablation},
            labels=("AICSD", "ICSD + KD"),
        ),
        Claim(
            f"AICSD > ICSD alone ({name})",
            {"group": "components", "label": "ICSD + KD + ALW (AICSD)", **ablation},
            {"group": "components", "label": "ICSD", **ablation},
            labels=("AICSD", "ICSD"),
        ),
        Claim(
            f"paper's ICSD > released arithmetic ({name})",
            {"group": "variant", "label": "paper ICSD", **ablation},
            {"group": "variant", "label": "released ICSD", **ablation},
            labels=("paper ICSD", "released ICSD"),
        ),
    ]
    return claims


def mechanism_claims(ablation_student: str) -> list[Claim]:
    """The claim about ICSD's mechanism, on ``ablation_student``: ICSD alone moves the student's ICS
    matrices towards the teacher's (``ics_distance``, lower is better; a column the caller adds).
    Tested on its own (``claims_table(..., family=False)``), not in the paper's family."""
    name = _name(ablation_student)
    return [
        Claim(
            f"ICSD moves the student's ICS matrices towards the teacher's ({name})",
            {"group": "components", "label": "ICSD", "backbone": ablation_student},
            {"group": "main", "method": "none", "backbone": ablation_student},
            metric="ics_distance",
            lower_is_better=True,
            labels=("ICSD", "student"),
        )
    ]
