"""Every metric name the alerts and the dashboard read, with where upstream defines it.

One place for each name, so a rename upstream is one edit here. Checked against the sources of
the pinned versions (paths inside the upstream repositories):

Pyroscope (grafana/pyroscope, tag v2.2.1; the ``pyroscope_`` prefixes come from
``prometheus.WrapRegistererWithPrefix`` in pkg/distributor/distributor.go (``pyroscope_``) and
pkg/pyroscope/modules_experimental.go (``pyroscope_metastore_``, ``pyroscope_compaction_worker_``)):

- ``pyroscope_distributor_received_compressed_bytes`` histogram {type, tenant}:
  pkg/distributor/metrics.go (its ``_count`` is the number of profiles received).
- ``pyroscope_distributor_received_decompressed_bytes_total`` histogram {tenant, stage} (stage
  ``received`` is before limits and sampling): pkg/distributor/metrics.go.
- ``pyroscope_discarded_bytes_total`` counter {reason, tenant}: pkg/validation/validate.go.
- ``pyroscope_usage_group_received_decompressed_total`` counter {type, tenant, usage_group}:
  pkg/validation/usage_groups.go (the bundle configures the group ``service/${labels.service_name}``).
- ``pyroscope_metastore_raft_state`` gauge {state} (1 for the current hashicorp/raft state:
  ``Leader``, ``Follower``, ``Candidate``, ``Shutdown``): pkg/metastore/raftnode/node_metrics.go,
  set in pkg/metastore/raftnode/observer.go.
- ``pyroscope_compaction_worker_jobs_completed_total`` counter {tenant, level, status} (status
  ``success``, ``failure``, ...) and ``pyroscope_compaction_worker_blocks_deleted_total``
  {status}: pkg/compactionworker/metrics.go and worker.go. The metastore index cleaner itself
  (pkg/metastore/index/cleaner/cleaner.go) exports no metric: expired blocks are deleted by
  compaction jobs, so "compaction not running" is the retention alert too.

Kubernetes:

- ``kubelet_volume_stats_available_bytes`` / ``kubelet_volume_stats_capacity_bytes``
  {namespace, persistentvolumeclaim}: kubernetes/kubernetes pkg/kubelet/metrics/collectors/
  volume_stats.go (kubelet /metrics, scraped by kube-prometheus-stack's kubelet ServiceMonitor).
- ``kube_pod_container_status_restarts_total``, ``kube_pod_container_resource_limits``
  {resource="memory"}, ``kube_job_status_failed`` {job_name} and
  ``kube_cronjob_status_last_successful_time`` {cronjob}: kubernetes/kube-state-metrics
  docs/metrics/workload/pod-metrics.md, job-metrics.md and cronjob-metrics.md (tag v2.20.0).
- ``container_memory_working_set_bytes`` {namespace, pod, container}: cAdvisor (kubelet
  /metrics/cadvisor).
- ``up``: Prometheus itself, per scrape target.

Gateway: nginx OSS has no Prometheus endpoint (``stub_status`` is a text page with connection
counts only, no status codes), so the gateway's answers are read from the ingress-nginx
controller in front of it: ``nginx_ingress_controller_requests`` counter {namespace, ingress,
status} (kubernetes/ingress-nginx internal/ingress/metric/collectors/socket.go, ``requests`` with
``PrometheusNamespace`` from main.go, tag controller-v1.15.1). Scraped by a
ServiceMonitor without honorLabels, its ``namespace`` label (the Ingress's) becomes
``exported_namespace``: that is what the rules select on.
"""

from __future__ import annotations

from typing import Final

RECEIVED_PROFILES: Final = "pyroscope_distributor_received_compressed_bytes_count"
RECEIVED_DECOMPRESSED_BYTES: Final = "pyroscope_distributor_received_decompressed_bytes_total_sum"
DISCARDED_BYTES: Final = "pyroscope_discarded_bytes_total"
USAGE_GROUP_RECEIVED: Final = "pyroscope_usage_group_received_decompressed_total"
RAFT_STATE: Final = "pyroscope_metastore_raft_state"
COMPACTION_JOBS: Final = "pyroscope_compaction_worker_jobs_completed_total"
BLOCKS_DELETED: Final = "pyroscope_compaction_worker_blocks_deleted_total"
VOLUME_AVAILABLE: Final = "kubelet_volume_stats_available_bytes"
VOLUME_CAPACITY: Final = "kubelet_volume_stats_capacity_bytes"
RESTARTS: Final = "kube_pod_container_status_restarts_total"
MEMORY_LIMIT: Final = "kube_pod_container_resource_limits"
MEMORY_WORKING_SET: Final = "container_memory_working_set_bytes"
JOB_FAILED: Final = "kube_job_status_failed"
CRONJOB_LAST_SUCCESS: Final = "kube_cronjob_status_last_successful_time"
INGRESS_REQUESTS: Final = "nginx_ingress_controller_requests"
UP: Final = "up"

# Values of the labels above that the rules select on.
RAFT_LEADER: Final = "Leader"
JOB_SUCCESS: Final = "success"
