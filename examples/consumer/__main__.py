"""Pulumi entry point of the consumer stack: read its config, wire its services (see profiled_shop.py)."""

import pulumi
from profiled_shop import ShopSettings, deploy_shop

config = pulumi.Config("shop")
settings = ShopSettings(
    profiling_stack=config.require("profilingStack"),
    environment=pulumi.get_stack(),
    namespace=config.get("namespace") or "shop",
    authenticated=config.get_bool("authenticated", True),
)
for name, value in sorted(deploy_shop(settings).items()):
    pulumi.export(name, value)
