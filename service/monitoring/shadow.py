"""A shadow challenger: a second model repository scored on a sample of live requests.

After the champion's response has gone to the client, a sampled request's records are scored
again by the challenger (the same-named servable in the challenger's repository, deciding with
the champion's policy), and the two are compared: whether the decision (or, for a model that
does not decide, the risk class) agrees, and how each output's distribution differs (PSI of
the challenger's outputs against the champion's on the same records, over a sliding window).
A challenger that fails is counted and logged; the champion's answer was already given.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from policy.document import Policy
from service.assessing import Assessment, assess
from service.inference.prediction import CLASS_OUTPUT
from service.inference.servable import Servable
from service.monitoring.drift import DriftLayout, DriftMonitor
from service.observability import metrics
from service.repository.store import ModelStore

log = logging.getLogger(__name__)

CHAMPION_PREFIX = "shadow-champion-"  # drift-window files of the shadowed records
CHALLENGER_PREFIX = "shadow-challenger-"
LABEL_PREFIX = "challenger:"  # the challenger store's model labels in the metrics
AGREEMENT = ("agree", "challenger_stricter", "challenger_more_lenient")
# Decision outcomes and risk classes, from the most lenient to the strictest.
SEVERITY = {"accept": 0, "refer": 1, "decline": 2, "standard": 0, "substandard": 1}


class Shadow:
    """Scores the challenger on a sample of one servable's requests, after the response."""

    def __init__(
        self,
        store: ModelStore[Servable | Policy],
        name: str,
        sample: float,
        directory: Path | None,
        capacity: int,
    ) -> None:
        self.store = store  # the challenger's repository
        self.name = name  # the servable shadowed ("underwriting" by default)
        self.sample = sample
        self.champion = DriftMonitor(directory, capacity, CHAMPION_PREFIX)
        self.challenger = DriftMonitor(directory, capacity, CHALLENGER_PREFIX)
        self._random = random.Random()
        self._deciding: dict[tuple[int, int], Servable] = {}
        self._compared: dict[str, int] = {}  # the challenger versions the windows hold
        for outcome in AGREEMENT:  # series from the start: rate() sees the first comparison
            metrics.SHADOW_AGREEMENT.labels(outcome)

    def wants(self, servable: Servable) -> bool:
        """Whether to shadow this request (its servable, then the sampling rate)."""
        return servable.name == self.name and self._random.random() < self.sample

    def score(self, champion: Servable, assessed: Assessment) -> None:
        """Score the challenger on the champion's records and compare; never raises."""
        started = time.perf_counter()
        try:
            self._score(champion, assessed)
        except Exception:
            log.exception("shadow scoring of %s failed; the champion's answer stands", self.name)
            metrics.SHADOW_FAILURES.inc()
        finally:
            metrics.SHADOW_DURATION.observe(time.perf_counter() - started)

    def _score(self, champion: Servable, assessed: Assessment) -> None:
        if not self.store.wait_scanned(0):
            return  # the challenger is still loading after a start: nothing to compare yet
        found = self.store.serving().get(self.name)
        if not isinstance(found, Servable):
            metrics.SHADOW_FAILURES.inc()  # not loadable (see the challenger's load failures)
            return
        if found.models[0].features_key != champion.models[0].features_key:
            raise ValueError("the challenger declares other features than the champion")
        if _outputs(found) != _outputs(champion):
            raise ValueError("the challenger declares other outputs than the champion")
        if found.versions != self._compared:  # a new challenger: its comparison starts afresh
            self.champion.forget(self.name)
            self.challenger.forget(self.name)
            self._compared = dict(found.versions)
        challenger = self._with_policy(found, champion.policy)
        theirs = assess(challenger, assessed.records, explain=False, observed=False)
        numbers, categories = champion.packer.numbers_and_indices(assessed.batch)
        # Both sets of bins first (the champion's bins for both), then every count at once,
        # so the two windows always hold the same records.
        layout = self.champion.layout(champion)
        if layout is None:
            return
        ours_binned = layout.bins(numbers, categories, assessed.prediction.outputs)
        theirs_binned = layout.bins(numbers, categories, theirs.prediction.outputs)
        outcomes = Counter(_compare(_verdicts(assessed), _verdicts(theirs)))
        self.champion.add(champion, ours_binned)
        self.challenger.add(champion, theirs_binned)
        for outcome, count in outcomes.items():
            metrics.SHADOW_AGREEMENT.labels(outcome).inc(count)

    def _with_policy(self, challenger: Servable, policy: Policy | None) -> Servable:
        """The challenger deciding with the champion's policy (one copy per pairing)."""
        if policy is None or challenger.policy is policy:
            return challenger
        key = (id(challenger), id(policy))
        if key not in self._deciding:
            self._deciding = {key: dataclasses.replace(challenger, policy=policy)}
        return self._deciding[key]

    def merged(
        self, serving: dict[str, object]
    ) -> Iterator[tuple[DriftLayout, np.ndarray, np.ndarray]]:
        """The shadowed servable's layout, the champion's and the challenger's bin counts."""
        shadowed = {self.name: serving[self.name]} if self.name in serving else {}
        champions = {layout.name: counts for layout, counts in self.champion.merged(shadowed)}
        for layout, counts in self.challenger.merged(shadowed):
            yield layout, champions[layout.name], counts


def _outputs(servable: Servable) -> list[tuple[str, tuple[str, ...]]]:
    """The declared outputs and their labels (bins and comparisons rely on them matching)."""
    return [(o.name, tuple(o.spec.labels or ())) for o in servable.outputs]


def _verdicts(assessed: Assessment) -> list[str]:
    """Each record's decision outcome, or its risk class for a model that does not decide."""
    if assessed.decided is not None:
        return [str(outcome) for outcome in assessed.decided.decisions.outcome]
    return [str(label) for label in assessed.prediction.outputs[CLASS_OUTPUT]]


def _compare(champion: list[str], challenger: list[str]) -> Iterator[str]:
    for ours, theirs in zip(champion, challenger, strict=True):
        if ours == theirs:
            yield AGREEMENT[0]
        elif SEVERITY.get(theirs, 1) > SEVERITY.get(ours, 1):
            yield AGREEMENT[1]
        else:
            yield AGREEMENT[2]
