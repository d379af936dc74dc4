"""``read_raw_config`` reads config the way ``pulumi up`` hands it over, not only the render's way.

The render calls ``set_all_config``; the real language host passes the stack's config in the
``PULUMI_CONFIG`` environment variable (JSON, secrets decrypted) with ``PULUMI_CONFIG_SECRET_KEYS``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from pulumi.runtime import config as runtime_config
from pyroscope_bundle.config.source import read_raw_config

TOKEN = "CANARY123"


@pytest.fixture
def engine_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Nothing set through set_all_config: only the environment, as under `pulumi up`.
    token = runtime_config.CONFIG.set({})
    values = {
        "pyroscope:server": json.dumps({"backend": "kubernetes", "retention": "30d"}),
        "pyroscope:authToken": TOKEN,
        "aws:region": "eu-west-1",
    }
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["pyroscope:authToken"]))
    yield
    runtime_config.CONFIG.reset(token)


def test_engine_config_from_the_environment_is_read_like_the_render(engine_config):
    async def read() -> tuple[dict[str, object], bool, str | None]:
        raw, secrets = read_raw_config()
        assert secrets.auth_token is not None
        return raw, await secrets.auth_token.is_secret(), await secrets.auth_token.future()

    loop = asyncio.new_event_loop()
    try:
        raw, is_secret, token = loop.run_until_complete(read())
    finally:
        loop.close()
    # Only the project's namespace, structures parsed, the token only as "is set".
    assert raw == {"server": {"backend": "kubernetes", "retention": "30d"}, "authToken": True}
    assert TOKEN not in json.dumps(raw)
    assert is_secret and token == TOKEN
