"""The Pulumi program: validated config in, the bundle's components out.

``__main__.py`` calls :func:`main`; the offline render runs the same function under mocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from pyroscope_bundle.config import BundleConfig, ConfigError, load_config
from pyroscope_bundle.config.routing import config_routes
from pyroscope_bundle.config.source import StackSecrets, read_raw_config
from pyroscope_bundle.gc_tuning import tune_gc
from pyroscope_bundle.grafana import deploy_grafana
from pyroscope_bundle.monitoring import deploy_monitoring
from pyroscope_bundle.server import deploy_server
from pyroscope_bundle.wiring import deploy_wiring, resolve_target


def run(project_root: Path | None = None) -> None:
    """The project's entry point (``__main__.py``): tune the garbage collector after the imports,
    then :func:`main`. Library callers and tests call :func:`main`, which changes no process-wide
    setting."""
    tune_gc()
    main(project_root)


def main(project_root: Path | None = None) -> None:
    """Read and validate the stack's config, then register the bundle's resources."""
    root = project_root or Path.cwd()
    try:
        raw, secrets = read_raw_config()
        config = load_config(raw, pulumi.get_stack(), root)
    except ConfigError as error:
        # RunError ends the program with the message only: no traceback for a bad value.
        raise pulumi.RunError(str(error)) from None
    for name, value in sorted(deploy(config, secrets, root).items()):
        pulumi.export(name, value)


def deploy(config: BundleConfig, secrets: StackSecrets, project_root: Path) -> dict[str, Any]:
    """Compose server, Grafana and wiring; return the stack outputs."""
    outputs: dict[str, Any] = {"environment": config.stack}
    # THE routing rule: every address, credential and tenant below comes from it.
    routes = config_routes(config)
    server = deploy_server(config, routes) if config.server.enabled else None
    if server is not None:
        outputs.update(server.outputs)
    outputs.update(deploy_grafana(config, server, secrets, routes))
    outputs.update(deploy_monitoring(config, server))
    target = resolve_target(routes, server, secrets.auth_token)
    ecs_target = resolve_target(routes, server, secrets.auth_token, from_outside=True)
    outputs.update(deploy_wiring(config, target, project_root, ecs_target))
    return outputs
