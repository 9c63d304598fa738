"""Reference distributions and the population stability index."""

from __future__ import annotations

import numpy as np
import pytest

from contract.errors import ContractError
from contract.reference import PSI_ACT, PSI_INVESTIGATE, Binned


def test_numbers_are_binned_by_training_deciles_and_read_back_the_same() -> None:
    rng = np.random.default_rng(1)
    sample = rng.normal(120, 15, 20_000)
    binned = Binned.of_numbers(sample)
    assert len(binned.proportions) == 10 and binned.edges is not None
    assert np.allclose(binned.proportions, 0.1, atol=1e-3)
    assert Binned.from_json(binned.to_json(), "x") == binned
    assert binned.counts(sample).tolist() == [round(p * 20_000) for p in binned.proportions]


def test_ties_merge_bins_and_categories_get_one_bin_each() -> None:
    counts = np.asarray([0] * 900 + [1] * 80 + [3] * 20)  # a mostly-zero count, as DUIs
    binned = Binned.of_numbers(counts)
    assert binned.edges == (0.0,) and binned.proportions == (0.9, 0.1)  # the top decile: > 0
    flags = Binned.of_values(np.asarray([True, False, False, False]), ("false", "true"))
    assert flags.proportions == (0.75, 0.25)
    assert flags.counts([True, True, False]).tolist() == [1, 2]
    tobacco = Binned.of_values(np.asarray(["never", "current"]), ("never", "former", "current"))
    assert tobacco.counts(["current", "unknown"]).tolist() == [0, 0, 1]


def test_psi_is_zero_for_the_same_mix_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(2)
    reference = Binned.of_numbers(rng.normal(0, 1, 50_000))
    same = reference.psi(reference.counts(rng.normal(0, 1, 10_000)))
    small = reference.psi(reference.counts(rng.normal(0.2, 1, 10_000)))
    large = reference.psi(reference.counts(rng.normal(1.0, 1, 10_000)))
    assert same < 0.01 < small < PSI_INVESTIGATE < PSI_ACT < large
    assert reference.psi(np.zeros(10)) == 0.0  # no traffic: no drift to report


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"proportions": [0.5, 0.6], "edges": [1.0]}, "add up to 1"),
        ({"proportions": [0.5, 0.5], "edges": [2.0, 1.0]}, "edges must rise"),
        ({"proportions": [1.0]}, "exactly one of edges or values"),
        ({"proportions": [0.5, 0.5], "values": ["a"]}, "one proportion per value"),
        ({"proportions": [-0.5, 1.5], "values": ["a", "b"]}, "non-negative"),
    ],
)
def test_a_malformed_reference_is_refused(raw: dict, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        Binned.from_json(raw, "age")
