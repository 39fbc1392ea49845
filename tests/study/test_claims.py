"""Paired statistics of the claims ledger against a hand computation on a small fixture."""

import math

import pandas as pd
import pytest

from aicsd.study.claims import Claim, claims_table, mechanism_claims, paired_gain, paper_claims


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
    assert any(text.startswith("paper's ICSD") for text in texts)
    assert any("ICS matrices" in claim.text for claim in mechanism_claims("resnet18"))


def test_holm_matches_statsmodels_on_fixed_and_random_families():
    multitest = pytest.importorskip("statsmodels.stats.multitest", reason="statsmodels is the reference for Holm's adjustment")
    import numpy as np

    from aicsd.study.claims import holm

    fixed = [0.01, 0.04, 0.03, 0.005, 0.2, 0.0001]
    np.testing.assert_allclose(holm(fixed), multitest.multipletests(fixed, method="holm")[1])
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 15):
        p = rng.uniform(0, 0.2, size)
        np.testing.assert_allclose(holm(p), multitest.multipletests(p, method="holm")[1])
    with_missing = holm([0.01, float("nan"), 0.02])
    assert math.isnan(with_missing[1])
    np.testing.assert_allclose(with_missing[[0, 2]], multitest.multipletests([0.01, 0.02], method="holm")[1])


def _family(gains_by_claim: dict[str, list[float]]) -> tuple[pd.DataFrame, list[Claim]]:
    rows, claims = [], []
    for name, gains in gains_by_claim.items():
        for seed, gain in enumerate(gains):
            rows.append({"method": f"{name}-t", "seed": seed, "miou": 0.5 + gain})
            rows.append({"method": f"{name}-c", "seed": seed, "miou": 0.5})
        claims.append(Claim(name, {"method": f"{name}-t"}, {"method": f"{name}-c"}))
    return pd.DataFrame(rows), claims


def test_the_verdict_is_taken_after_holm_and_the_raw_one_kept():
    # one clear gain, one that clears 95 % alone but not after the adjustment, three nulls
    runs, claims = _family(
        {
            "clear": [0.10, 0.11, 0.10, 0.12, 0.11],
            "marginal": [0.01, 0.03, 0.00, 0.02, 0.035],
            "null1": [0.01, -0.01, 0.02, -0.02, 0.0],
            "null2": [-0.01, 0.01, 0.0, 0.01, -0.01],
            "null3": [0.02, -0.02, 0.01, -0.01, 0.0],
        }
    )
    table = claims_table(runs, claims).set_index("claim")
    assert table.loc["marginal", "raw_verdict"] == "supported"
    assert table.loc["marginal", "p_value"] < 0.05 < table.loc["marginal", "p_holm"]
    assert table.loc["marginal", "verdict"] == "inconclusive"
    assert table.loc["clear", "verdict"] == "supported"
    assert (table["p_holm"] >= table["p_value"]).all()
    alone = claims_table(runs, claims, family=False).set_index("claim")
    assert alone.loc["marginal", "verdict"] == "supported"
    assert (alone["p_holm"] == alone["p_value"]).all()


def test_detectable_gain_is_the_gain_holms_strictest_step_calls_supported():
    from scipy import stats

    runs, claims = _family({"a": [0.02, 0.05, 0.01, 0.04], "b": [0.0, 0.01, -0.01, 0.02], "c": [0.03, 0.03, 0.02, 0.05]})
    table = claims_table(runs, claims).set_index("claim")
    sd = pd.Series([0.02, 0.05, 0.01, 0.04]).std(ddof=1)
    expected = stats.t.ppf(1 - 0.05 / (2 * 3), 3) * sd / math.sqrt(4)
    assert table.loc["a", "detectable_gain"] == pytest.approx(expected)
    # a claim whose mean gain equals its detectable gain has a Holm-adjusted p of exactly 0.05 at that step
    shifted = [d - 0.03 + expected for d in [0.02, 0.05, 0.01, 0.04]]
    p = stats.ttest_1samp(shifted, 0.0).pvalue
    assert 3 * p == pytest.approx(0.05)


def test_aicsd_over_icsd_alone_is_a_claim_and_alw_form_is_not():
    texts = [claim.text for claim in paper_claims(["resnet18", "mobilenet_v2"], "resnet18")]
    assert "AICSD > ICSD alone (ResNet-18)" in texts
    assert not any(text.startswith("ALW per step") for text in texts)
