"""Which servables a model repository gives and how they are built: a Flask-free module, shared
by the service's store and the batch scorer so both score with the same composition."""

from __future__ import annotations

from pathlib import Path

from contract.errors import ContractError
from policy.document import POLICY_NAME, Policy, read_policy
from policy.publish import check_fit
from service.inference.loader import load_model
from service.inference.runtimes import Runtime
from service.inference.servable import Servable, build_servable

MODEL_NAMES = ("risk_class", "max_coverage")
# The composite runs both models on the same validated batch and decides with the policy.
COMPOSITE = "underwriting"
COMPOSITES = {COMPOSITE: (*MODEL_NAMES, POLICY_NAME)}


def load_servable(name: str, version: int, path: Path, runtime: Runtime) -> Servable | Policy:
    """Load one version: a model, compiled and warmed up, or the policy (the store's loader)."""
    if name == POLICY_NAME:
        policy = read_policy(path, version)
        check_fit(policy, path.parent.parent)
        return policy
    return build_servable(name, (load_model(name, version, path, runtime),))


def combine(name: str, components: tuple[Servable | Policy, ...]) -> Servable:
    """Build a composite over its components' models, deciding with the policy among them."""
    models = tuple(m for c in components if isinstance(c, Servable) for m in c.models)
    policies = [c for c in components if isinstance(c, Policy)]
    policy = policies[0] if policies else None
    if policy is not None:
        explains = [(m.metadata, m.metadata.explain) for m in models if m.metadata.explain]
        if not explains:
            raise ContractError(f"{name}: no model has an explain signature to give reasons")
        metadata, explanation = explains[0]
        policy.check_against(metadata.features, explanation.features, metadata.class_names)
    return build_servable(name, models, policy)
