"""Paired statistics of the claims ledger against a hand computation on a small fixture."""

import math

import pandas as pd
import pytest

from aicsd.study.claims import Claim, claims_table, paired_gain, paper_claims


def _runs() -> pd.DataFrame:
    rows = []
    treated = {0: 0.50, 1: 0.54, 2: 0.515}
    control = {0: 0.45, 1: 0.50, 2: 0.47, 3: 0.40}
    for seed, miou in treated.items():
        rows.append({"group": "main", "backbone": "r18", "method": "aicsd", "seed": seed, "miou": miou})
    for seed, miou in control.items():
        rows.append({"group": "main", "backbone": "r18", "method": "none", "seed": seed, "miou": miou})
    return pd.DataFrame(rows)


CLAIM = Claim("AICSD > student", {"method": "aicsd"}, {"method": "none"}, labels=("AICSD", "student"))


def test_paired_gain_matches_a_hand_computed_t_interval():
    out = paired_gain(_runs(), CLAIM)
    differences = [0.05, 0.04, 0.045]
    mean = sum(differences) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / 2)
    half_width = 4.302652729911275 * sd / math.sqrt(3)
    assert out["n"] == 3
    assert out["gain"] == pytest.approx(mean)
    assert out["ci_low"] == pytest.approx(mean - half_width)
    assert out["ci_high"] == pytest.approx(mean + half_width)
    assert out["verdict"] == "supported"


def test_verdicts_and_direction():
    runs = _runs()
    reverse = Claim("student > AICSD", {"method": "none"}, {"method": "aicsd"})
    assert paired_gain(runs, reverse)["verdict"] == "contradicted"
    lower = Claim("AICSD lower", {"method": "aicsd"}, {"method": "none"}, lower_is_better=True)
    assert paired_gain(runs, lower)["gain"] == pytest.approx(-paired_gain(runs, CLAIM)["gain"])
    noisy = runs.copy()
    noisy.loc[(noisy["method"] == "aicsd") & (noisy["seed"] == 2), "miou"] = 0.30
    assert paired_gain(noisy, CLAIM)["verdict"] == "inconclusive"
    one_seed = runs[runs["seed"] == 0]
    assert paired_gain(one_seed, CLAIM)["verdict"].startswith("inconclusive")


def test_claims_table_leaves_out_claims_without_runs_or_metric_and_refuses_ambiguous_selections():
    claims = [CLAIM, Claim("ICKD", {"method": "ickd"}, {"method": "none"}), Claim("x", {"method": "aicsd"}, {"method": "none"}, metric="ics_distance")]
    table = claims_table(_runs(), claims)
    assert list(table["claim"]) == ["AICSD > student"]
    with pytest.raises(ValueError, match="several runs of one seed"):
        paired_gain(_runs(), Claim("ambiguous", {"group": "main"}, {"method": "none"}))


def test_paper_claims_cover_the_ledger():
    texts = [claim.text for claim in paper_claims(["resnet18", "mobilenet_v2"], "resnet18")]
    for expected in ("AICSD > student (ResNet-18)", "AICSD > student (MobileNetV2)", "AICSD > KD (ResNet-18)", "AICSD > ICKD (ResNet-18)",
                     "AICSD > CWD (ResNet-18)", "AICSD > DIST (ResNet-18)", "ICSD alone > student (ResNet-18)"):
        assert expected in texts
    assert any(text.startswith("ALW helps") for text in texts)
    assert any(text.startswith("ALW per step > ALW per epoch") for text in texts)
    assert any(text.startswith("paper's ICSD") for text in texts)
    assert any("ICS matrices" in text for text in texts)
