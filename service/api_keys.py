"""API keys, whichever protocol presents them: the configured keys, kept only as digests.

Keys are compared in constant time; a key is never logged or echoed. The accepted key's id (a
prefix of its digest, service.callers.key_id) goes with the request: the decisions record it,
and it says whose decisions the caller may read (SERVICE_DECISION_READERS: every caller's).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from service.callers import key_id
from service.settings import Settings, split_keys

log = logging.getLogger(__name__)


def load_keys(settings: Settings) -> tuple[str, ...]:
    """Return the configured keys: SERVICE_API_KEYS plus those in SERVICE_API_KEYS_FILE."""
    keys = split_keys(settings.api_keys)
    if settings.api_keys_file is not None:
        keys += split_keys(settings.api_keys_file.read_text(encoding="utf-8"))
    return tuple(dict.fromkeys(keys))


class KeyChecker:
    """Accept a presented key if it equals one of the configured keys (constant time)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple((hashlib.sha256(k.encode()).digest(), key_id(k)) for k in keys)

    def identify(self, presented: str) -> str | None:
        """The presented key's id if it is a configured key, else None."""
        digest = hashlib.sha256(presented.encode()).digest()
        matched = None
        for known, identity in self._digests:  # no early exit: time does not say which matched
            if hmac.compare_digest(known, digest):
                matched = identity
        return matched

    def accepts(self, presented: str) -> bool:
        return self.identify(presented) is not None


CLIENT, UNDERWRITER, AUDITOR = "client", "underwriter", "auditor"
ROLES = (CLIENT, UNDERWRITER, AUDITOR)


@dataclass(frozen=True)
class KeyHolder:
    """Who holds a key: its id, role and name (the id when none is configured)."""

    key_id: str
    role: str = CLIENT
    name: str = ""

    @property
    def shown(self) -> str:
        """How the holder is named in a case's history."""
        return self.name or self.key_id


def key_roles(text: str) -> dict[str, KeyHolder]:
    """The holders SERVICE_API_KEY_ROLES names, by key id (validated by the settings)."""
    holders = {}
    for entry in split_keys(text):
        identity, _, given = entry.partition("=")
        role, _, name = given.partition(":")
        holders[identity] = KeyHolder(identity, role, name)
    return holders


@dataclass(frozen=True)
class Keys:
    """The configured keys, which of their ids may read every caller's decisions, and each
    key's role and name."""

    checker: KeyChecker
    readers: frozenset[str]
    holders: Mapping[str, KeyHolder] = field(default_factory=dict)

    def holder(self, identity: str) -> KeyHolder:
        """The holder of an accepted key: as configured, else a client named by its id."""
        return self.holders.get(identity) or KeyHolder(identity)

    def reads_all(self, identity: str) -> bool:
        """Whether the key reads every caller's decisions: a reader's, or an auditor's."""
        return identity in self.readers or self.holder(identity).role == AUDITOR


def configured_keys(settings: Settings, announce: bool = False) -> Keys | None:
    """The keys the settings configure (None: none, every route is open); `announce` logs
    their ids, or a warning that anyone can call, as the service starts."""
    keys = load_keys(settings)
    if not keys:
        if announce and settings.api_key_roles:
            log.warning("SERVICE_API_KEY_ROLES is ignored: without API keys no case route serves")
        if announce and settings.decision_readers:
            log.warning(
                "SERVICE_DECISION_READERS is ignored: without API keys anyone reads every decision"
            )
        if announce:
            log.warning(
                "no API keys configured (SERVICE_API_KEYS, SERVICE_API_KEYS_FILE): prediction "
                "and model metadata routes are open to anyone who can reach the service"
            )
        return None
    readers = frozenset(split_keys(settings.decision_readers))
    holders = key_roles(settings.api_key_roles)
    ids = [key_id(key) for key in keys]
    if announce:
        log.info("API keys configured, by id: %s", ", ".join(ids))
        if unknown := sorted(readers - set(ids)):
            log.warning("SERVICE_DECISION_READERS names no configured key: %s", ", ".join(unknown))
        if unknown := sorted(set(holders) - set(ids)):
            log.warning("SERVICE_API_KEY_ROLES names no configured key: %s", ", ".join(unknown))
    return Keys(KeyChecker(keys), readers, holders)
