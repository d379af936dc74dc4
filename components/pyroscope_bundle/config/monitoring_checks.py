"""Rules of ``pyroscope:monitoring`` that span other sections: what would blind an alert.

The probe is a client like any service (its own gateway user, its own ``service_name``), so
a name it shares with a tenant or a wired service would mix its synthetic profiles into real
data: that service's "no profiles" alert would then never fire.
"""

from __future__ import annotations

from pyroscope_bundle import constants
from pyroscope_bundle.config.errors import Problem, key_path
from pyroscope_bundle.config.model import BundleFields


def check_monitoring(config: BundleFields) -> list[Problem]:
    """Problems naming the key to change (the model runs this through ``cross_check``)."""
    if not config.probe_enabled:
        return []
    problems: list[Problem] = []
    server = config.server
    if server.multitenancy and constants.PROBE_GATEWAY_USER in server.tenants:
        problems.append(
            Problem(
                key_path("server", "tenants"),
                f"names {constants.PROBE_GATEWAY_USER!r}, the probe's own gateway user and tenant; "
                "rename that tenant, or turn the probe off with pyroscope:monitoring.probe.enabled: false",
                server.tenants,
            )
        )
    probe_name = config.monitoring.probe.service_name
    for index, service in enumerate(config.services):
        if service.enabled and (service.application_name or service.name) == probe_name:
            field = "applicationName" if service.application_name else "name"
            problems.append(
                Problem(
                    key_path("services", index, field),
                    "is the probe's service_name (pyroscope:monitoring.probe.serviceName): the probe's "
                    "profiles would count as this service's and its no-profiles alert could never "
                    "fire; rename one of them",
                    probe_name,
                )
            )
    return problems
