"""The claims ledger: each claim of the paper as a paired comparison over seeds, with a verdict.

Runs of the same seed share the student's initialisation and the order of the training batches
(:func:`aicsd.engine.seed_everything`, the per-epoch loader seed), so a method's gain over its
control is measured as the per-seed difference ``treatment - control`` and summarised by its mean
and a paired-t 95 % interval (``scipy.stats.ttest_rel``). With five seeds a bootstrap interval
would rest on at most 2^5 distinct resamples and come out too narrow; the t interval is the
standard small-sample choice and assumes roughly normal per-seed differences.

Verdicts at the chosen confidence: *supported* when the whole interval lies on the claimed side of
zero, *contradicted* when it lies wholly on the other side, *inconclusive* otherwise (and always
with fewer than two paired seeds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from aicsd.study.paper import STUDENTS

__all__ = ["Claim", "CLAIM_COLUMNS", "claims_table", "paired_gain", "paper_claims"]

CONFIDENCE = 0.95
CLAIM_COLUMNS = ["claim", "treatment", "control", "metric", "n", "gain", "ci_low", "ci_high", "p_value", "verdict"]


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


def claims_table(df: pd.DataFrame, claims: Sequence[Claim], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One :func:`paired_gain` row per claim whose runs and metric are in ``df`` (others are left out)."""
    rows = [paired_gain(df, claim, confidence) for claim in claims if claim.metric in df.columns]
    table = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    return table[table["n"] > 0].reset_index(drop=True)


def paper_claims(students: Sequence[str], ablation_student: str) -> list[Claim]:
    """The paper's claims as :class:`Claim` objects over the book's run groups.

    Main table (``group == "main"``, per student): AICSD > plain student, > KD, > ICKD, and beyond
    the paper > CWD, > DIST. Ablations on ``ablation_student``: ICSD alone > plain student; ALW
    helps (AICSD vs ICSD + KD with fixed weights); ALW stepped per optimiser step beats the released
    per-epoch form; the paper's ICSD vs the released arithmetic;
    the ICS matrices of ICSD students are nearer the teacher's than the plain student's
    (``ics_distance``, lower is better; a column the caller adds).
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
            f"ALW per step > ALW per epoch ({name})",
            {"group": "alw", "label": "ALW per step", **ablation},
            {"group": "alw", "label": "ALW per epoch", **ablation},
            labels=("per step", "per epoch"),
        ),
        Claim(
            f"paper's ICSD > released arithmetic ({name})",
            {"group": "variant", "label": "paper ICSD", **ablation},
            {"group": "variant", "label": "released ICSD", **ablation},
            labels=("paper ICSD", "released ICSD"),
        ),
        Claim(
            f"ICSD moves the student's ICS matrices towards the teacher's ({name})",
            {"group": "components", "label": "ICSD", **ablation},
            {"group": "main", "method": "none", **ablation},
            metric="ics_distance",
            lower_is_better=True,
            labels=("ICSD", "student"),
        ),
    ]
    return claims
