"""The gateway's allow-list: which credential (role) may call which Pyroscope API, with which
methods, and which component serves it.

Everything not listed here is refused for every push and query credential: Pyroscope serves
routes with no tenant check on its main port (``/ops/object-store/tenants/...`` downloads any
tenant's profiles, ``/debug/pprof``, ``/api/v1/status/config``, ``/runtime_config``, the ring and
memberlist pages with POST ``forget``; grafana/pyroscope v2.2.1 ``pkg/api/api.go``). Only the
optional admin credential reaches those.

Sources (grafana/pyroscope tag v2.2.1 unless noted):
- push: ``pkg/api/api.go`` ``RegisterDistributor`` (``/ingest``, ``/pyroscope/ingest``, the
  Connect ``push.v1.PusherService``, OTLP ``/v1development/profiles`` and the gRPC
  ``ProfilesService/Export``).
- query: ``RegisterQuerierServiceHandler`` (``querier.v1.QuerierService``, the API of Grafana's
  datasource, grafana/grafana ``pkg/tsdb/grafana-pyroscope-datasource/pyroscopeClient.go``),
  ``RegisterPyroscopeHandlers`` (``/pyroscope/render``, ``render-diff``, ``label-values``), the
  VCS and feature-flag services and the read methods of the settings and ad-hoc-profile
  services that the Profiles Drilldown app calls through the datasource proxy
  (grafana/profiles-drilldown ``src/shared/infrastructure/http/ApiClient.ts``).
- components: the official chart's own Ingress (chart pyroscope-2.2.1
  ``templates/ingress.yaml``): settings -> tenant-settings, ad-hoc profiles -> ad-hoc-profiles,
  pushes -> distributor, queries -> query-frontend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Role = Literal["push", "query", "admin"]
Component = Literal["distributor", "query-frontend", "tenant-settings", "ad-hoc-profiles"]

ROLES: Final[tuple[Role, ...]] = ("push", "query", "admin")
COMPONENTS: Final[tuple[Component, ...]] = (
    "distributor",
    "query-frontend",
    "tenant-settings",
    "ad-hoc-profiles",
)
OTLP_GRPC_EXPORT_PATH: Final = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
OTLP_HTTP_PATH: Final = "/v1development/profiles"


@dataclass(frozen=True)
class Route:
    """One allowed API: an exact path, or a prefix when it ends with ``/``."""

    path: str
    role: Role
    component: Component
    methods: tuple[str, ...] = ("POST",)
    # Served on the gateway's HTTP/2 (gRPC) listener instead of its HTTP/1.1 one.
    grpc: bool = False

    @property
    def prefix(self) -> bool:
        return self.path.endswith("/")


def _service(name: str, methods: tuple[str, ...], role: Role, component: Component) -> list[Route]:
    """Connect/gRPC methods of one service: always POST."""
    return [Route(f"/{name}/{method}", role, component) for method in methods]


ROUTES: Final[tuple[Route, ...]] = (
    # --- push: what profilers, Alloy and OpenTelemetry collectors send -------------------------
    Route("/push.v1.PusherService/Push", "push", "distributor"),
    Route("/ingest", "push", "distributor"),
    Route("/pyroscope/ingest", "push", "distributor"),
    Route(OTLP_HTTP_PATH, "push", "distributor"),
    Route(OTLP_GRPC_EXPORT_PATH, "push", "distributor", grpc=True),
    # --- query: Grafana's datasource and the Profiles Drilldown app ------------------------------
    Route("/querier.v1.QuerierService/", "query", "query-frontend"),
    Route("/vcs.v1.VCSService/", "query", "query-frontend"),
    Route("/capabilities.v1.FeatureFlagsService/", "query", "query-frontend"),
    Route("/pyroscope/render", "query", "query-frontend", ("GET",)),
    Route("/pyroscope/render-diff", "query", "query-frontend", ("GET",)),
    Route("/pyroscope/label-values", "query", "query-frontend", ("GET",)),
    # Reads only: Set/Delete and Upsert/DeleteRecordingRule change the tenant's state (admin
    # credential). The Profiles Drilldown app lists the tenant's recording rules
    # (``RecordingRulesApiClient``: ``ListRecordingRules``); served by tenant-settings
    # (``RegisterTenantSettings`` in ``pkg/api/api.go``, ``api/settings/v1/recording_rules.proto``).
    *_service("settings.v1.SettingsService", ("Get",), "query", "tenant-settings"),
    *_service(
        "settings.v1.RecordingRulesService",
        ("GetRecordingRule", "ListRecordingRules"),
        "query",
        "tenant-settings",
    ),
    # Upload stores a profile in the tenant's bucket: admin credential.
    *_service("adhocprofiles.v1.AdHocProfileService", ("Get", "List", "Diff"), "query", "ad-hoc-profiles"),
)


def routes_for(role: Role) -> list[Route]:
    return [route for route in ROUTES if route.role == role]


# Prefixes the admin credential reaches on a component other than the query-frontend.
ADMIN_PREFIXES: Final[tuple[tuple[str, Component], ...]] = (
    ("/settings.v1.", "tenant-settings"),
    ("/adhocprofiles.v1.", "ad-hoc-profiles"),
)
