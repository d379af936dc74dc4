"""The rollout hash (pod annotation / ECS variable): an HMAC under the stack's key, not a bare
prefix of sha256(password) that a weak password could be guessed back from offline."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs
from pyroscope_bundle import constants, stack_key
from pyroscope_bundle.program import main
from pyroscope_bundle.render.mocks import BundleMocks
from pyroscope_bundle.render.runner import run_program
from pyroscope_bundle.testing import MOCK_STACK_KEY
from pyroscope_bundle.wiring.settings import credentials_hash_of

from tests.harness import PROJECT_DIR, Deployed

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
ANNOTATION = "pyroscope-bundle/credentials-hash"
# A weak, user-given token: exactly what an offline dictionary attack finds.
WEAK = "summer2026"
DICTIONARY = ["password", "letmein", "hunter2", "summer2025", WEAK, "winter2026"]


def old_hash(password: str) -> str:
    """What the annotation carried before: the first 16 hex digits of sha256(password)."""
    return hashlib.sha256(password.encode()).hexdigest()[:16]


class FreshKeyMocks(BundleMocks):
    """Like pulumi-random on a new stack: the stack key is fresh random bytes; records it."""

    def __init__(self) -> None:
        super().__init__()
        self.key: str | None = None

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        resource_id, state = super().new_resource(args)
        if args.typ == RANDOM_PASSWORD and args.name == stack_key.RESOURCE_NAME:
            self.key = secrets.token_hex(32)
            state["result"] = self.key
        return resource_id, state


def deploy(token: str, *, stack: str = "production", mocks: BundleMocks | None = None) -> Deployed:
    config = {
        "server": {"enabled": False},
        "grafana": {"mode": "none"},
        "target": {"kind": "external", "url": "https://profiles.example.com", "basicAuthUser": "shop"},
        "services": [
            {"name": "orders", "platform": "kubernetes", "runtime": "go",
             "kubernetes": {"namespace": "shop"}},
            {"name": "invoices", "platform": "ecs", "runtime": "python",
             "ecs": {"containerDefinitions": "configs/ecs/payments-api.json"}},
        ],
    }  # fmt: skip
    values: dict[str, Any] = {f"{constants.PROJECT_NAME}:{key}": value for key, value in config.items()}
    values[f"{constants.PROJECT_NAME}:authToken"] = token
    run = run_program(
        lambda: main(PROJECT_DIR), stack=stack, config=values,
        secret_keys=[f"{constants.PROJECT_NAME}:authToken"], mocks=mocks,
    )  # fmt: skip
    return Deployed(run)


def annotation(deployed: Deployed) -> str:
    patch = deployed.one("kubernetes:apps/v1:DeploymentPatch", "profiler-orders")
    value = patch.raw_inputs["spec"]["template"]["metadata"]["annotations"][ANNOTATION]
    assert isinstance(value, str), f"the rollout hash must be a plain value, got {value!r}"
    return value


def ecs_hash(deployed: Deployed) -> str:
    task = deployed.one("aws:ecs/taskDefinition:TaskDefinition", "profiler-invoices")
    definitions = json.loads(task.inputs["containerDefinitions"])
    values = {
        e["value"] for d in definitions for e in d["environment"] if e["name"].endswith("CREDENTIALS_HASH")
    }
    (value,) = values
    return str(value)


# --- the function ---------------------------------------------------------------------------------


def test_it_is_hmac_sha256_under_the_key_truncated_to_16_hex_digits() -> None:
    key = "k" * 64
    expected = hmac.new(key.encode(), b"rollout-hash\0" + WEAK.encode(), hashlib.sha256).hexdigest()[:16]
    assert credentials_hash_of(WEAK, key) == expected
    assert len(expected) == 16 and int(expected, 16) >= 0


def test_same_password_other_key_other_hash_and_a_new_password_a_new_hash() -> None:
    key_a, key_b = secrets.token_hex(32), secrets.token_hex(32)
    assert credentials_hash_of(WEAK, key_a) != credentials_hash_of(WEAK, key_b)
    assert credentials_hash_of(WEAK, key_a) != credentials_hash_of(WEAK + "!", key_a)
    assert credentials_hash_of(WEAK, key_a) == credentials_hash_of(WEAK, key_a)


# --- through the program ------------------------------------------------------------------------


def test_the_annotation_and_the_ecs_variable_are_the_hmac_under_the_stacks_own_key() -> None:
    mocks = FreshKeyMocks()
    deployed = deploy(WEAK, mocks=mocks)
    assert mocks.key is not None
    assert annotation(deployed) == ecs_hash(deployed) == credentials_hash_of(WEAK, mocks.key)
    # One key per stack, a secret in its state (pulumi-random RandomPassword, no keepers: its
    # inputs never change, so `pulumi up` keeps the stored value and the hash never churns).
    (key,) = [r for r in deployed.of_type(RANDOM_PASSWORD) if r.name == stack_key.RESOURCE_NAME]
    assert key.raw_inputs == {"length": 64, "special": False}


def test_an_offline_dictionary_attack_of_the_old_kind_no_longer_finds_a_weak_token() -> None:
    leaked = annotation(deploy(WEAK, mocks=FreshKeyMocks()))
    # The old annotation gave the token away to a dictionary attack ...
    assert [guess for guess in DICTIONARY if old_hash(guess) == old_hash(WEAK)] == [WEAK]
    # ... the new one matches no guess: without the stack's key there is nothing to test them on.
    assert [guess for guess in DICTIONARY if old_hash(guess) == leaked] == []
    assert leaked != old_hash(WEAK)


def test_two_stacks_with_the_same_token_get_unrelated_hashes() -> None:
    production = annotation(deploy(WEAK, stack="production", mocks=FreshKeyMocks()))
    staging = annotation(deploy(WEAK, stack="staging", mocks=FreshKeyMocks()))
    assert production != staging


def test_stable_across_runs_and_changes_exactly_with_the_token() -> None:
    # The key as the state keeps it (the mocks hand back the same stored value on every run).
    first, again = deploy(WEAK), deploy(WEAK)
    assert annotation(first) == annotation(again) == credentials_hash_of(WEAK, MOCK_STACK_KEY)
    rotated = deploy("autumn2026")
    assert annotation(rotated) != annotation(first)
    assert ecs_hash(rotated) == annotation(rotated) == credentials_hash_of("autumn2026", MOCK_STACK_KEY)
    # The key resource is the same in both runs: rotating the token keeps it.
    keys = [
        [r.raw_inputs for r in run.of_type(RANDOM_PASSWORD) if r.name == stack_key.RESOURCE_NAME]
        for run in (first, rotated)
    ]
    assert keys[0] == keys[1] and len(keys[0]) == 1
