"""The policy document: what it may say, how it is parsed, sealed and read back.

A published version lives in `<models>/underwriting_policy/<version>/policy.json`, sealed like a
model's metadata (`policy_sha256`: the sha256 of its canonical JSON without that key), so an edit
after publication is refused and the previous version keeps deciding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from contract.checksums import sealed_digest
from contract.errors import ContractError
from contract.features import Feature

POLICY_NAME = "underwriting_policy"
POLICY_FILE = "policy.json"
DIGEST_KEY = "policy_sha256"
FORMAT_VERSION = 2  # 2: reason wording once per code, features mapped to codes
READABLE_FORMATS = (1, 2)  # 1: wording per feature (published before format 2; still read)
Outcome = Literal["accept", "refer", "decline"]
OUTCOMES: tuple[Outcome, ...] = ("accept", "refer", "decline")
# A knock-out compares a feature's value with one of these.
COMPARISONS = ("above", "at_least", "below", "at_most", "in")
MAXIMUM_REASONS = 4  # New York and Washington cap an adverse decision's reasons at four
# A request field, not a feature: the amount applied for, which the face-amount rule reads.
REQUESTED_COVERAGE = Feature(
    "requested_coverage",
    "number",
    "USD",
    "Optional: the face amount applied for. A model with a decision policy (underwriting) "
    "refers an acceptance above its offer or the accelerated-underwriting limit; the others "
    "do not read it.",
    0.0,
    1e9,
)


@dataclass(frozen=True)
class Wording:
    """A reason or rule as the applicant reads it: a code and its text."""

    code: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True)
class KnockOut:
    """A declared condition on one feature that decides (or refers) whatever the model says."""

    wording: Wording
    feature: str
    comparison: str  # one of COMPARISONS
    bound: float | tuple[str, ...]
    outcome: Outcome

    def to_json(self) -> dict[str, Any]:
        bound = list(self.bound) if isinstance(self.bound, tuple) else self.bound
        return {
            **self.wording.to_json(),
            "feature": self.feature,
            self.comparison: bound,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class Policy:
    """A parsed policy version: outcomes per class, rules in order of precedence, reason wording."""

    name: str
    description: str
    outcomes: Mapping[str, Outcome]  # model class -> outcome
    knock_outs: tuple[KnockOut, ...]
    minimum_top_probability: float
    confidence: Wording
    confidence_outcome: Outcome
    out_of_range: Wording
    out_of_range_outcome: Outcome
    accelerated_limit: float
    offer_step: float
    above_offer: Wording
    above_limit: Wording
    no_offer: Wording  # an acceptance whose offer rounds down to nothing
    maximum_reasons: int
    minimum_contribution: float
    reason_texts: Mapping[str, str]  # reason code -> its text, once per code
    reason_codes: Mapping[str, str]  # directed feature -> its reason code
    version: int | None = None
    created_at: str = ""
    digest: str = ""

    @cached_property
    def wording(self) -> dict[str, Wording]:
        """Each directed feature's reason: its code and the code's text."""
        return {f: Wording(code, self.reason_texts[code]) for f, code in self.reason_codes.items()}

    @cached_property
    def features_by_code(self) -> dict[str, tuple[str, ...]]:
        """Each reason code's features (build: height and weight), in declaration order."""
        by_code: dict[str, list[str]] = {}
        for feature, code in self.reason_codes.items():
            by_code.setdefault(code, []).append(feature)
        return {code: tuple(features) for code, features in by_code.items()}

    @property
    def versions(self) -> dict[str, int]:
        """Its name and version, as a model store lists what it serves."""
        return {self.name: self.version or 0}

    @cached_property
    def rules_digest(self) -> str:
        """sha256 of what decides (outcomes, rules, wording), whatever the version, the date and
        the document's layout: equal digests decide alike, so a model validated under one knows
        the other. It is taken over the first layout (wording per feature), so that a policy
        republished in a later layout keeps the digest its models were validated under."""
        content = {k: v for k, v in self.to_json().items() if k not in ("version", "created_at")}
        content["format_version"] = 1
        content["reasons"] = {
            "maximum": self.maximum_reasons,
            "minimum_contribution": self.minimum_contribution,
            "wording": {name: w.to_json() for name, w in self.wording.items()},
        }
        return sealed_digest(content, DIGEST_KEY)

    def to_json(self) -> dict[str, Any]:
        """Return the policy.json form without its digest."""
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at,
            "description": self.description,
            "outcomes": dict(self.outcomes),
            "knock_outs": [k.to_json() for k in self.knock_outs],
            "confidence": {
                "minimum_top_probability": self.minimum_top_probability,
                "outcome": self.confidence_outcome,
                **self.confidence.to_json(),
            },
            "out_of_range": {"outcome": self.out_of_range_outcome, **self.out_of_range.to_json()},
            "face_amount": {
                "accelerated_limit": self.accelerated_limit,
                "offer_step": self.offer_step,
                "above_offer": self.above_offer.to_json(),
                "above_limit": self.above_limit.to_json(),
                "no_offer": self.no_offer.to_json(),
            },
            "reasons": {
                "maximum": self.maximum_reasons,
                "minimum_contribution": self.minimum_contribution,
                "codes": dict(self.reason_texts),
                "features": dict(self.reason_codes),
            },
        }

    def check_against(
        self,
        features: tuple[Feature, ...],
        directed: tuple[str, ...],
        class_names: tuple[str, ...] | None = None,
    ) -> None:
        """Refuse a policy that does not fit a classifier: its features, reasons and classes.

        A knock-out may only test a feature with a declared risk direction (never a protected
        attribute, age, sex or money: its value would become a reason); every explained feature
        needs wording and nothing else may have any; every class needs an outcome.
        """
        declared = {f.name: f for f in features}
        for rule in self.knock_outs:
            feature = declared.get(rule.feature)
            if feature is None:
                raise ContractError(f"knock-out {rule.wording.code} names unknown {rule.feature!r}")
            if rule.feature not in directed:
                raise ContractError(
                    f"knock-out {rule.wording.code} tests {rule.feature!r}, which has no risk "
                    "direction: it could never be given as a reason"
                )
            if (rule.comparison == "in") != (feature.type == "category"):
                raise ContractError(
                    f"knock-out {rule.wording.code}: {rule.comparison!r} does not apply to "
                    f"{feature.type} {rule.feature!r}"
                )
            if rule.comparison == "in" and isinstance(rule.bound, tuple):
                if unknown := sorted(set(rule.bound) - set(feature.categories or ())):
                    raise ContractError(f"knock-out {rule.wording.code}: unknown {unknown}")
        if missing := sorted(set(directed) - set(self.wording)):
            raise ContractError(f"the policy has no reason wording for {missing}")
        if stray := sorted(set(self.wording) - set(directed)):
            raise ContractError(f"reason wording for features that cannot be reasons: {stray}")
        if class_names is not None and set(self.outcomes) != set(class_names):
            raise ContractError(
                f"outcomes name {sorted(self.outcomes)}; the classifier's classes are "
                f"{list(class_names)}"
            )

    @classmethod
    def from_json(cls, raw: Any) -> Policy:
        """Parse a policy (a source file or a published version), refusing anything unclear."""
        # Every object is checked for keys it does not know: a misspelt threshold must be
        # refused, not silently left at its old value.
        document = _Reader(raw, "policy", _TOP_KEYS)
        outcomes = document.mapping("outcomes")
        for label, outcome in outcomes.items():
            _outcome(outcome, f"policy.outcomes.{label}")
        confidence = document.reader("confidence", {"minimum_top_probability", "outcome", *_WORDS})
        out_of_range = document.reader("out_of_range", {"outcome", *_WORDS})
        face = document.reader(
            "face_amount",
            {"accelerated_limit", "offer_step", "above_offer", "above_limit", "no_offer"},
        )
        reasons = document.reader("reasons", _REASON_KEYS)
        texts, codes = _reason_wording(reasons, document.raw.get("format_version"))
        maximum = reasons.integer("maximum")
        if not 1 <= maximum <= MAXIMUM_REASONS:
            raise ContractError(f"policy.reasons.maximum must be 1 to {MAXIMUM_REASONS}")
        threshold = confidence.number("minimum_top_probability")
        if not 0 <= threshold <= 1:
            raise ContractError("policy.confidence.minimum_top_probability must lie in [0, 1]")
        limit, step = face.number("accelerated_limit"), face.number("offer_step")
        if not (limit > 0 and step > 0):
            raise ContractError("policy.face_amount limit and offer_step must be positive")
        return cls(
            name=document.text("name"),
            description=document.text("description", required=False),
            outcomes={str(k): _outcome(v, f"outcomes.{k}") for k, v in outcomes.items()},
            knock_outs=tuple(_knock_out(r, i) for i, r in enumerate(document.list("knock_outs"))),
            minimum_top_probability=threshold,
            confidence=confidence.wording(),
            confidence_outcome=_outcome(
                confidence.raw.get("outcome"), f"{confidence.where}.outcome"
            ),
            out_of_range=out_of_range.wording(),
            out_of_range_outcome=_outcome(
                out_of_range.raw.get("outcome"), f"{out_of_range.where}.outcome"
            ),
            accelerated_limit=limit,
            offer_step=step,
            above_offer=face.reader("above_offer", _WORDS).wording(),
            above_limit=face.reader("above_limit", _WORDS).wording(),
            no_offer=face.reader("no_offer", _WORDS).wording(),
            maximum_reasons=maximum,
            minimum_contribution=reasons.number("minimum_contribution"),
            reason_texts=texts,
            reason_codes=codes,
            version=document.raw.get("version"),
            created_at=str(document.raw.get("created_at", "")),
            digest=str(document.raw.get(DIGEST_KEY, "")),
        )


def read_policy(path: Path, version: int | None = None) -> Policy:
    """Read a published policy.json: its seal must hold and its version match the directory."""
    try:
        raw = json.loads((path / POLICY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(f"unreadable {POLICY_FILE}: {exc}") from None
    if not isinstance(raw, Mapping) or raw.get(DIGEST_KEY) != sealed_digest(raw, DIGEST_KEY):
        raise ContractError(f"{POLICY_FILE} changed after publication ({DIGEST_KEY} mismatch)")
    if raw.get("format_version") not in READABLE_FORMATS:
        raise ContractError(f"unsupported policy format_version {raw.get('format_version')!r}")
    policy = Policy.from_json(raw)
    if version is not None and policy.version != version:
        raise ContractError(f"{POLICY_FILE} says version {policy.version}, directory {version}")
    return policy


def sealed(policy: Policy) -> dict[str, Any]:
    """Return the policy.json content of a policy, with its digest."""
    content = policy.to_json()
    return content | {DIGEST_KEY: sealed_digest(content, DIGEST_KEY)}


_WORDS = frozenset({"code", "text"})
_TOP_KEYS = frozenset(
    {
        "format_version",
        "name",
        "version",
        "created_at",
        "description",
        "outcomes",
        "knock_outs",
        "confidence",
        "out_of_range",
        "face_amount",
        "reasons",
        DIGEST_KEY,
    }
)


class _Reader:
    """Typed access to one JSON object of the policy, with errors naming the key."""

    def __init__(self, raw: Any, where: str, known: Collection[str] | None = None) -> None:
        if not isinstance(raw, Mapping):
            raise ContractError(f"{where} is not an object")
        if known is not None and (unknown := sorted(set(raw) - set(known))):
            raise ContractError(f"{where} has unknown keys {unknown} (known: {sorted(known)})")
        self.raw, self.where = raw, where

    def _get(self, key: str) -> Any:
        if key not in self.raw:
            raise ContractError(f"{self.where} lacks {key!r}")
        return self.raw[key]

    def reader(self, key: str, known: Collection[str] | None = None) -> _Reader:
        return _Reader(self._get(key), f"{self.where}.{key}", known)

    def mapping(self, key: str) -> Mapping[str, Any]:
        return self.reader(key).raw

    def list(self, key: str) -> list[Any]:
        value = self._get(key)
        if not isinstance(value, list):
            raise ContractError(f"{self.where}.{key} is not a list")
        return value

    def text(self, key: str, required: bool = True) -> str:
        value = self._get(key) if required else self.raw.get(key, "")
        if not isinstance(value, str) or (required and not value.strip()):
            raise ContractError(f"{self.where}.{key} must be non-empty text")
        return value

    def number(self, key: str) -> float:
        value = self._get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ContractError(f"{self.where}.{key} must be a finite number")
        return float(value)

    def integer(self, key: str) -> int:
        value = self._get(key)
        if type(value) is not int:
            raise ContractError(f"{self.where}.{key} must be an integer")
        return value

    def wording(self) -> Wording:
        return Wording(self.text("code"), self.text("text"))


def _outcome(value: Any, where: str) -> Outcome:
    if value not in OUTCOMES:
        raise ContractError(f"{where} must be one of {list(OUTCOMES)}, not {value!r}")
    return value


_REASON_KEYS = {"maximum", "minimum_contribution", "codes", "features", "wording"}


def _reason_wording(reasons: _Reader, format_version: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Each code's text once, and each feature's code: `codes` and `features`, or (the first
    layout, format 1) `wording`, each feature's code and text, whose features sharing a code
    agree. A source file (no format_version) may use either layout."""
    where = reasons.where
    first = "wording" in reasons.raw
    if first and {"codes", "features"} & set(reasons.raw):
        raise ContractError(f"{where}: `wording` or `codes` and `features`, not both")
    if format_version is not None and (format_version == 1) != first:
        layout = "`wording`" if format_version == 1 else "`codes` and `features`"
        raise ContractError(f"{where}: format_version {format_version} words reasons in {layout}")
    if first:
        texts: dict[str, str] = {}
        codes: dict[str, str] = {}
        for name, raw in reasons.mapping("wording").items():
            wording = _Reader(raw, f"{where}.wording.{name}", _WORDS).wording()
            if texts.setdefault(wording.code, wording.text) != wording.text:
                raise ContractError(f"{where}.wording: {wording.code} has two texts")
            codes[str(name)] = wording.code
        return texts, codes
    texts = {}
    for code, text in reasons.mapping("codes").items():
        worded = _Reader({"code": code, "text": text}, f"{where}.codes.{code}").wording()
        texts[worded.code] = worded.text
    codes = {}
    for name, code in reasons.mapping("features").items():
        if not isinstance(code, str) or code not in texts:
            raise ContractError(f"{where}.features.{name}: no text for code {code!r} in codes")
        codes[str(name)] = code
    if unused := sorted(set(texts) - set(codes.values())):
        raise ContractError(f"{where}.codes: no feature has the codes {unused}")
    return texts, codes


def _knock_out(raw: Any, index: int) -> KnockOut:
    rule = _Reader(
        raw, f"policy.knock_outs[{index}]", {"code", "text", "feature", "outcome", *COMPARISONS}
    )
    given = [c for c in COMPARISONS if c in rule.raw]
    if len(given) != 1:
        raise ContractError(f"{rule.where} needs exactly one of {list(COMPARISONS)}")
    comparison = given[0]
    bound: float | tuple[str, ...]
    if comparison == "in":
        values = rule.list("in")
        if not values or not all(isinstance(v, str) for v in values):
            raise ContractError(f"{rule.where}.in must list categories")
        bound = tuple(values)
    else:
        bound = rule.number(comparison)
    return KnockOut(
        wording=rule.wording(),
        feature=rule.text("feature"),
        comparison=comparison,
        bound=bound,
        outcome=_outcome(rule.raw.get("outcome"), f"{rule.where}.outcome"),
    )
