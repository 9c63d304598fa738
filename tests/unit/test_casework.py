"""Which decisions open underwriters' cases: every referral, and a drawn share of the rest."""

from __future__ import annotations

import numpy as np
import pytest

from service.decisions.cases import AUDIT, REFERRAL, Casework, reason_codes

OUTCOMES = np.array(["accept", "refer", "decline", "accept", "refer"], dtype=object)


def kinds(casework: Casework, outcomes: np.ndarray) -> list[str | None]:
    applicants = [{"age": 40 + i} for i in range(len(outcomes))]
    outputs = {"max_coverage": np.arange(len(outcomes), dtype=np.float32)}
    opened = casework.openings(outcomes, applicants, outputs)
    for i, case in enumerate(opened):
        if case is not None:  # each case holds its own record's values and outputs
            assert case.applicant == {"age": 40 + i} and case.outputs == {"max_coverage": float(i)}
    return [None if case is None else case.kind for case in opened]


def test_every_referral_opens_a_case_and_no_audit_is_drawn_at_a_share_of_zero() -> None:
    assert kinds(Casework(0.0), OUTCOMES) == [None, REFERRAL, None, None, REFERRAL]


def test_at_a_share_of_one_every_straight_through_decision_is_audited() -> None:
    assert kinds(Casework(1.0), OUTCOMES) == [AUDIT, REFERRAL, AUDIT, AUDIT, REFERRAL]


def test_the_audited_share_is_the_declared_one() -> None:
    outcomes = np.array(["accept"] * 200_000, dtype=object)
    _, audited = Casework(0.02, np.random.default_rng(3)).opening(outcomes)
    # 2% of 200,000: 4,000 +- 63 (one standard deviation); six of them either side.
    assert abs(int(audited.sum()) - 4_000) < 6 * 63


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="audit share"):
        Casework(share)


def test_the_queue_matches_reason_and_rule_codes_whole() -> None:
    decision = {"reasons": [{"code": "R02"}, {"code": "R13"}], "rules": [{"code": "RF04"}]}
    assert reason_codes(decision) == " R02 R13 RF04 "
    assert reason_codes({"reasons": [], "rules": []}) == "  "
