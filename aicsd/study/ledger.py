"""The book's claims ledger from the finished runs of a profile: one function, read by the claims
chapter, the summary record and ``make results-table``, so that the three never disagree.

The paper's claims (:func:`aicsd.study.claims.paper_claims`) are one family under Holm's
adjustment; the mechanism claim (ICS distance to the teacher) is tested on its own and needs the
networks, so it is measured only when asked (``distance_images``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from aicsd.study import analysis, claims, experiments

__all__ = ["BookLedger", "book_ledger", "book_runs"]


@dataclass(frozen=True)
class BookLedger:
    """The runs behind the ledger and its two parts: ``family`` (the paper's claims, Holm-adjusted)
    and ``mechanism`` (the ICS-distance claim, alone; empty when not measured)."""

    runs: pd.DataFrame
    family: pd.DataFrame
    mechanism: pd.DataFrame


def book_runs(profile: str, dataset: str = "synthetic", data_root: str | None = None, device: str = "auto") -> pd.DataFrame:
    """The collected runs of the book's tables (main table and ablations at the weights chosen on
    val); every run must have finished (FileNotFoundError names the first that has not)."""
    place = {"dataset": dataset, "data_root": data_root, "device": device}
    weights = experiments.tuned_weights(profile, **place, train=False)
    return experiments.collect(experiments.main_table(profile, weights=weights, **place) + experiments.ablations(profile, weights=weights, **place))


def book_ledger(
    profile: str,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
    *,
    distance_images: int | None = None,
    runs: pd.DataFrame | None = None,
) -> BookLedger:
    """The ledger of ``profile``'s finished runs (``runs``: their :func:`book_runs`, read when None).

    ``distance_images``: measure the mechanism claim on that many images of the reported split
    (:func:`aicsd.study.analysis.with_ics_distance`, the plain and ICSD-alone students of the
    ablation student); None leaves it out.
    """
    runs = book_runs(profile, dataset, data_root, device) if runs is None else runs
    family = claims.claims_table(runs, claims.paper_claims(experiments.STUDENTS, experiments.ABLATION_STUDENT))
    mechanism = pd.DataFrame(columns=claims.CLAIM_COLUMNS)
    if distance_images:
        teacher = experiments.teacher_run(profile, dataset=dataset, data_root=data_root, device=device)
        measured = runs["backbone"].eq(experiments.ABLATION_STUDENT) & runs["method"].isin(["none", "icsd"])
        distances = analysis.with_ics_distance(runs[measured], teacher, experiments.report_split(teacher), count=distance_images)
        runs = runs.join(distances["ics_distance"])
        mechanism = claims.claims_table(runs, claims.mechanism_claims(experiments.ABLATION_STUDENT), family=False)
    return BookLedger(runs, family, mechanism)
