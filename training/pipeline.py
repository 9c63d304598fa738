"""The training run: data -> split -> preprocessing -> each model task -> artifacts."""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import shutil
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np
import sklearn
import tensorflow as tf

from contract import publication
from contract.card import RULES_DIGEST
from contract.metadata import LiteRTExport, ModelMetadata, Signature
from contract.reference import Binned
from policy.decide import decide, straight_through
from policy.publish import DEFAULT_SOURCE, load_source
from training import (
    audit,
    explain,
    fairness,
    networks,
    parity,
    plots,
    reasons,
    report,
)
from training.csv_data import load_csv
from training.dataset import Dataset, split
from training.export import export_explain_litert, export_litert, export_saved_model
from training.features import BMI_RISK_FROM, FEATURES, PROHIBITED
from training.gate import GATE_KEY, GateVerdict, PublicationRefused, model_failures
from training.networks import inputs_of
from training.options import DEFAULT_GROUP_DISPARITY, TrainingOptions
from training.preprocessing import RISK_COLUMNS, Preprocessor
from training.synthetic import RULES_MARKDOWN, generate, knock_outs
from training.synthetic.generator import GROUP_COLUMN
from training.tasks import TASKS, ModelTask, Split

COVERAGE = "max_coverage"  # the regressor's output the policy's offer comes from
# A held-out sample from a seed no training run draws from, for the targets (synthetic only).
FRESH_ROWS = 50_000
FRESH_SEED_OFFSET = 1_000_003
AUDIT_APPLICANTS = 10_000  # base applicants of the behaviour audit: >= 10,000 pairs per factor


def synthetic(rows: int, seed: int, group_disparity: float = DEFAULT_GROUP_DISPARITY) -> Dataset:
    """A labelled synthetic sample, with its truth."""
    sample = generate(rows, seed, group_disparity)
    return Dataset(
        features=sample.features,
        risk_class=sample.risk_class,
        max_coverage=sample.max_coverage,
        source="synthetic",
        true_probabilities=sample.true_probabilities,
        expected_coverage=sample.expected_coverage,
        knocked_out=knock_outs(sample.features),
        groups=sample.groups,
        group_column=GROUP_COLUMN,
        face_amount=sample.face_amount,
    )


def load_dataset(options: TrainingOptions) -> Dataset:
    """The user's CSV if given, else the seeded synthetic generator."""
    if options.data is not None:
        return load_csv(options.data, options.fairness_column)
    return synthetic(options.rows, options.seed, options.group_disparity)


def _architecture(task: ModelTask, model: keras.Model) -> str:
    """Describe the network and preprocessing for the report and metadata."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    units = ", ".join(str(u) for u in networks.RISK_UNITS)
    return (
        f"Keras {keras.__version__}, {model.count_params():,} parameters ({trainable:,} "
        f"trained here): {task.structure.format(units=units)}. Adam, learning rate reduced on "
        f"plateau, batch {task.batch_size}, early stopping on validation loss (patience "
        f"{networks.PATIENCE}, best weights restored).\n\nReads {task.reads}.\n\n"
        f"Preprocessing, inside both exports: the risk block ({len(RISK_COLUMNS)} columns, each "
        f"rising as the applicant gets worse: oriented and standardised measurements, log(1 + x) "
        f"of the non-negative ones, the total/HDL cholesterol ratio, BMI above {BMI_RISK_FROM:g}, "
        f"flags, categories as cumulative indicators over their best-to-worst order); the context "
        f"(age, sex, BMI below {BMI_RISK_FROM:g}); money (age and the financial features, "
        f"clipped at their declared limits)."
    )


def _metadata(
    task: ModelTask,
    data: Dataset,
    splits: dict[str, Split],
    options: TrainingOptions,
    metrics: dict,
    architecture: str,
    fitted: networks.FitResult,
    seconds: float,
) -> ModelMetadata:
    """Describe one trained model through the contract (its version is given at publication)."""
    declared = task.declaration
    return ModelMetadata(
        name=task.name,
        task=task.task,
        description=task.description,
        intended_use=task.intended_use,
        limitations=task.limitations,
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        features=FEATURES,
        outputs=declared.outputs,
        signature=Signature.for_features(FEATURES),
        prohibited=PROHIBITED,
        derived_outputs=declared.derived_outputs,
        class_names=declared.class_names,
        target=declared.target,
        metrics=metrics,
        training={
            "seed": options.seed,
            "rows": {key: len(s.rows) for key, s in splits.items()},
            "data": {"source": data.source, "fingerprint": data.fingerprint()},
            "epochs_run": fitted.epochs_run,
            "max_epochs": options.epochs,
            "duration_seconds": round(seconds, 1),
            "owner": options.owner,
            "validation_date": options.validation_date,
        },
        library_versions={
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        architecture=architecture,
        inputs=task.inputs,
        training_ranges=_training_ranges(splits["train"].rows),
    )


def _reference(
    task: ModelTask, rows: Dataset, outputs: Mapping[str, np.ndarray]
) -> dict[str, Binned]:
    """The training split's distribution of every feature and output, for drift monitoring."""
    reference: dict[str, Binned] = {}
    for feature in FEATURES:
        values = np.asarray(rows.features[feature.name])
        if feature.type in ("integer", "number"):
            reference[feature.name] = Binned.of_numbers(values)
        elif feature.type == "boolean":
            reference[feature.name] = Binned.of_values(values, ("false", "true"))
        else:
            reference[feature.name] = Binned.of_values(values, feature.categories or ())
    for output in task.declaration.outputs:
        values = np.asarray(outputs[output.name])
        if output.labels is not None:
            for j, label in enumerate(output.labels):
                reference[f"{output.name}.{label}"] = Binned.of_numbers(values[:, j])
        else:
            reference[output.name] = Binned.of_numbers(values)
    return reference


def _training_ranges(rows: Dataset) -> dict[str, tuple[float, float]]:
    """Each declared number's lowest and highest value among the training rows."""
    ranges = {}
    for feature in FEATURES:
        if feature.type in ("integer", "number"):
            values = np.asarray(rows.features[feature.name], dtype=np.float64)
            ranges[feature.name] = (float(values.min()), float(values.max()))
    return ranges


@dataclasses.dataclass
class Fitted:
    """A task fitted and judged, not yet published (both models are fitted before either is)."""

    task: ModelTask
    result: networks.FitResult
    score: audit.Scorer
    served: dict[str, np.ndarray]  # on the test split, exactly as the signature serves
    metrics: dict[str, Any]
    explainer: explain.Explainer | None
    explain_checks: dict[str, Any]
    started: float


def fit_task(
    task: ModelTask,
    options: TrainingOptions,
    data: Dataset,
    splits: dict[str, Split],
    preprocessor: Preprocessor,
    trained: dict[str, keras.Model],
) -> Fitted:
    """Fit one network, evaluate it beside Bayes and gradient boosting, audit it."""
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    started = time.perf_counter()
    print(f"[{task.name}] fitting on {len(train.rows):,} rows", flush=True)
    keras.utils.set_random_seed(options.seed)  # each model reproducible on its own
    model = task.build(train.x, trained)
    fitted = networks.fit(
        model,
        (inputs_of(model, train.x), task.labels(train.rows)),
        (inputs_of(model, validation.x), task.labels(validation.rows)),
        options.epochs,
        task.batch_size,
    )
    trained[task.name] = fitted.model
    score = _scorer(task, fitted.model, preprocessor)
    # Evaluate exactly what the signature will serve.
    served = dict(score(test.rows.features))
    declared = [o.name for o in task.declaration.outputs]
    if sorted(served) != sorted(declared):
        raise ValueError(f"{task.name} serves {sorted(served)} but declares {sorted(declared)}")
    print(f"[{task.name}] fitting the gradient-boosting baseline", flush=True)
    baseline = task.baseline(train, options.seed)
    metrics: dict[str, Any] = {"test": task.metrics(test.rows, served, baseline(test.x))}
    fresh = splits.get("fresh")
    judged, judged_served = test, served  # what the targets are judged on
    if fresh is not None:
        judged, judged_served = fresh, dict(score(fresh.rows.features))
        metrics["fresh"] = task.metrics(fresh.rows, judged_served, baseline(fresh.x))
    print(f"[{task.name}] auditing its behaviour on paired applicants", flush=True)
    metrics["audit"] = task.audit(
        score,
        _audit_base(judged.rows, options.seed).features,
        _scorer(task, fitted.model, preprocessor, guarded=False),
    )
    explainer = task.explainer(fitted.model, preprocessor)
    explain_checks: dict[str, Any] = {}
    if explainer is not None:
        print(f"[{task.name}] checking its reasons on the adverse applicants", flush=True)
        classify = (lambda columns: score(columns)["probabilities"]) if data.has_truth else None
        explain_checks = _check_reasons(explainer, judged, judged_served, classify)
    return Fitted(task, fitted, score, served, metrics, explainer, explain_checks, started)


def judge_decisions(fits: list[Fitted], splits: dict[str, Split]) -> None:
    """The pair's decisions on the test split: the policy mix and the fairness report.

    Decisions need both models (the offer comes from the coverage), so they are judged once
    both are fitted, and recorded in each model's metrics: the mix and acceptance by group in
    the classifier's, coverage by group in the regressor's.
    """
    test, train = splits["test"], splits["train"]
    classifier = next(f for f in fits if f.task.declaration.class_names is not None)
    regressor = next((f for f in fits if COVERAGE in f.served), None)
    coverage = None if regressor is None else regressor.served[COVERAGE]
    class_names = classifier.task.declaration.class_names or ()
    mix, outcomes = _policy_mix(test.rows, classifier.served, class_names, train.rows, coverage)
    classifier.metrics["policy"] = mix
    classifier.metrics["fairness"] = _acceptance_fairness(test.rows, outcomes == "accept")
    if regressor is not None:
        regressor.metrics["fairness"] = _coverage_fairness(test.rows, regressor.served)
    for fit in fits:
        if "fairness" in fit.metrics:
            _print_fairness(fit.task.name, fit.metrics["fairness"])


@dataclasses.dataclass
class Staged:
    """One model exported and described, waiting for the gate's verdict on the pair."""

    task: ModelTask
    staging: Path
    metadata: ModelMetadata
    failures: list[str]
    rules: str | None


def stage_task(
    fit: Fitted,
    options: TrainingOptions,
    data: Dataset,
    splits: dict[str, Split],
    preprocessor: Preprocessor,
) -> Staged:
    """Describe, export, and check the LiteRT export against the SavedModel; publish nothing."""
    task, fitted, metrics, explainer = fit.task, fit.result, fit.metrics, fit.explainer
    explain_checks, test = fit.explain_checks, splits["test"]
    architecture = _architecture(task, fitted.model)
    seconds = time.perf_counter() - fit.started
    metadata = _metadata(task, data, splits, options, metrics, architecture, fitted, seconds)
    metadata = dataclasses.replace(
        metadata,
        reference=_reference(task, splits["train"].rows, fit.score(splits["train"].rows.features)),
    )
    failures = model_failures(task.name, task.task, metrics, explain_checks)
    gradient = explain_checks.get("gradient_max_difference")
    if gradient is not None and not gradient <= explain.GRADIENT_TOLERANCE:
        failures.append(f"{task.name}: reasons: explain gradient off by {gradient:g}")
    staging = publication.staging_directory(options.models_dir, task.name)
    try:
        networks.without_optimizer(fitted.model).save(staging / "model.keras")
        preprocessor.save(staging)
        export_saved_model(fitted.model, preprocessor, task.serve, staging, explainer)
        export_litert(fitted.model, preprocessor, task.serve, staging)
        if explainer is not None:
            export_explain_litert(fitted.model, explainer, staging)
        try:
            checked = parity.check_parity(staging, task.declaration.outputs)
            print(f"[{task.name}] LiteRT export matches the SavedModel: {checked}", flush=True)
        except parity.ExportMismatch as mismatch:
            checked = {"failed": str(mismatch)}
            failures.append(f"{task.name}: {mismatch}")
        metadata = dataclasses.replace(
            metadata, litert=LiteRTExport.for_features(FEATURES, checked)
        )
        if explainer is not None:
            try:
                explained = parity.check_explain_parity(staging, explain.declaration())
            except parity.ExportMismatch as mismatch:
                explained = {"failed": str(mismatch)}
                failures.append(f"{task.name}: {mismatch}")
            explain_checks["parity"] = explained
            metadata = dataclasses.replace(metadata, explain=explain.declaration(explain_checks))
        plots.training_curves(fitted.history, staging / "training_curves.png", task.name)
        task.draw(metrics["test"], test.rows, fit.served, staging)
    except BaseException:
        publication.discard(staging)
        raise
    rules = RULES_MARKDOWN if data.has_truth else None
    return Staged(task, staging, metadata, failures, rules)


def publish_staged(staged: Staged, models_dir: Path, gate: GateVerdict) -> ModelMetadata:
    """Publish one staged model into `models_dir` under the next number, with the gate's verdict."""
    staging = staged.staging
    metadata = dataclasses.replace(
        staged.metadata, training={**staged.metadata.training, GATE_KEY: gate.to_json()}
    )
    try:
        if staging.parent.parent.resolve() != models_dir.resolve():  # set aside: move it there
            moved = publication.staging_directory(models_dir, staged.task.name)
            moved.rmdir()
            shutil.move(staging, moved)
            _remove_if_empty(staging.parent)
            staging = moved
        target, sealed = publication.publish(staging, metadata, _report_writer(staged.rules))
    except BaseException:
        publication.discard(staging)
        raise
    print(f"[{staged.task.name}] published {target}", flush=True)
    return sealed


def _remove_if_empty(directory: Path) -> None:
    """Leave no empty model directory in the repository a refused model was staged in."""
    with contextlib.suppress(OSError):
        directory.rmdir()


def _check_reasons(
    explainer: explain.Explainer,
    judged: Split,
    served: dict[str, np.ndarray],
    classify: reasons.Classify | None,
) -> dict[str, Any]:
    """The explain function's gradient against TensorFlow's, completeness and faithfulness."""
    sample = slice(0, explain.GRADIENT_CHECK_ROWS)
    checks: dict[str, Any] = {
        "gradient_max_difference": explain.check_gradient(
            explainer, judged.x["risk"][sample], judged.x["context"][sample]
        )
    }
    checks |= reasons.quality(
        explainer, judged.rows.features, served["probabilities"], explain.declaration(), classify
    )
    return checks


def _policy_mix(
    rows: Dataset,
    served: dict[str, np.ndarray],
    class_names: tuple[str, ...],
    train: Dataset,
    coverage: np.ndarray | None,
) -> tuple[dict[str, Any], np.ndarray]:
    """The shipped decision policy's outcome mix and straight-through rate on the test split
    (offers from `coverage`, no requested amounts), and each record's outcome."""
    policy = load_source(DEFAULT_SOURCE)
    decisions = decide(
        policy,
        rows.features,
        class_names,
        served["probabilities"],
        coverage,
        None,
        _training_ranges(train),
    )
    rules: dict[str, int] = {}
    for fired in decisions.rules:
        for kind in {rule.rule for rule in fired}:
            rules[kind] = rules.get(kind, 0) + 1
    # The rules' digest names exactly what this mix (and the fairness report) was measured under.
    mix = {
        "source": DEFAULT_SOURCE.name,
        RULES_DIGEST: policy.rules_digest,
        **straight_through(decisions),
        "rules_fired": rules,
    }
    return mix, np.asarray(decisions.outcome)


def _acceptance_fairness(rows: Dataset, accepted: np.ndarray) -> dict[str, Any]:
    """Acceptance by protected group on the test split (fairness.py), if the data has groups."""
    if rows.groups is None or rows.group_column is None:
        return fairness.not_run(NO_GROUP_COLUMN)
    controls = {name: rows.features[name] for name in ("age", "sex", "tobacco_use")}
    if rows.face_amount is not None:
        controls["face_amount"] = rows.face_amount
    return fairness.acceptance_report(rows.group_column, rows.groups, accepted, controls)


def _coverage_fairness(rows: Dataset, served: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Predicted coverage by protected group on the test split, if the data has groups."""
    if rows.groups is None or rows.group_column is None:
        return fairness.not_run(NO_GROUP_COLUMN)
    coverage = np.asarray(served["max_coverage"], dtype=np.float64).reshape(-1)
    return fairness.coverage_report(rows.group_column, rows.groups, coverage)


NO_GROUP_COLUMN = (
    "the data has no protected group column (train on a CSV with --fairness-column COLUMN)"
)


def _print_fairness(task: str, found: Mapping[str, Any]) -> None:
    if not found.get("ran"):
        print(f"[{task}] fairness report could not run: {found['reason']}", flush=True)
        return
    flagged = found.get("flagged_groups")
    verdict = "" if flagged is None else f"; flagged: {', '.join(flagged) or 'none'}"
    print(f"[{task}] fairness by {found['column']}{verdict}", flush=True)


def _audit_base(rows: Dataset, seed: int) -> Dataset:
    """AUDIT_APPLICANTS base applicants from held-out rows (drawn again if there are fewer)."""
    if len(rows) >= AUDIT_APPLICANTS:
        return rows.take(np.arange(AUDIT_APPLICANTS))
    rng = np.random.default_rng(seed)
    return rows.take(rng.choice(len(rows), AUDIT_APPLICANTS, replace=True))


def _scorer(
    task: ModelTask, model: keras.Model, preprocessor: Preprocessor, guarded: bool = True
) -> audit.Scorer:
    """Raw columns -> the outputs the signature serves (or the network's own, unguarded)."""
    outputs_of = task.serve if guarded else task.unguarded

    def score(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        encoded = preprocessor.encode_numpy(columns)
        outputs = outputs_of(model.predict(inputs_of(model, encoded), batch_size=8192, verbose=0))
        return {name: np.asarray(values) for name, values in outputs.items()}

    return score


def _report_writer(rules: str | None) -> Callable[[Path, ModelMetadata], None]:
    def write(directory: Path, metadata: ModelMetadata) -> None:
        (directory / "report.md").write_text(report.model_report(metadata, rules))

    return write


def run(options: TrainingOptions, data: Dataset | None = None) -> list[ModelMetadata]:
    """Train and publish every model task (on `data` if already loaded); return their metadata."""
    started = time.perf_counter()
    data = data if data is not None else load_dataset(options)
    print(f"data: {len(data):,} rows from {data.source}", flush=True)
    parts = dict(zip(("train", "validation", "test"), split(data, options.seed), strict=True))
    preprocessor = Preprocessor().fit(parts["train"].features)
    if data.has_truth and options.data is None:
        parts["fresh"] = synthetic(FRESH_ROWS, options.seed + FRESH_SEED_OFFSET)
    splits = {k: Split(rows, preprocessor.encode_numpy(rows.features)) for k, rows in parts.items()}
    trained: dict[str, keras.Model] = {}
    fits = [fit_task(task, options, data, splits, preprocessor, trained) for task in TASKS]
    judge_decisions(fits, splits)
    staged: list[Staged] = []
    try:
        for fit in fits:
            staged.append(stage_task(fit, options, data, splits, preprocessor))
    except BaseException:
        for done in staged:
            publication.discard(done.staging)
        raise
    failures = tuple(failure for done in staged for failure in done.failures)
    gate = GateVerdict(failures, options.publish_anyway)
    destination = options.models_dir if gate.publishes else options.set_aside_dir
    results: list[ModelMetadata] = []
    try:
        for done in staged:
            results.append(publish_staged(done, destination, gate))
    except BaseException:
        for left in staged[len(results) + 1 :]:  # publish_staged discarded its own
            publication.discard(left.staging)
        raise
    print(report.console_summary(results, time.perf_counter() - started), flush=True)
    print(gate_summary(gate, destination), flush=True)
    if not gate.publishes:
        raise PublicationRefused(
            f"not published: {len(failures)} check(s) of the publication gate failed (listed "
            f"above); the models were set aside in {destination}/. Train with more rows or "
            "epochs, or publish anyway with --publish-anyway (recorded in the metadata and the "
            "model card)."
        )
    return results


def gate_summary(gate: GateVerdict, destination: Path) -> str:
    """The console's last word: whether the pair passed the gate and where it went."""
    if gate.passed:
        return f"publication gate: passed; published to {destination}/"
    shown = "\n".join(f"  - {failure}" for failure in gate.failures)
    verdict = "published anyway" if gate.published_anyway else "set aside"
    return f"publication gate: FAILED ({verdict}, in {destination}/):\n{shown}"
