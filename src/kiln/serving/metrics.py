"""Prometheus metrics of a model server: requests, latency, batch sizes.

With several worker processes the supervisor sets PROMETHEUS_MULTIPROC_DIR before any worker
imports prometheus_client, and /metrics sums every worker's files.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any


@dataclass
class Metrics:
    requests: Any
    latency: Any
    batch_size: Any

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import CollectorRegistry, multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


@functools.cache
def metrics() -> Metrics:
    """One set per process: prometheus_client refuses to register a metric name twice."""
    from prometheus_client import Counter, Histogram

    return Metrics(
        Counter("kiln_inference_requests", "Inference requests by model, protocol and status",
                ["model", "protocol", "code"]),
        Histogram("kiln_inference_request_duration_seconds",
                  "Time from request received to response ready", ["model"],
                  buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5)),
        Histogram("kiln_inference_batch_size", "Rows per model call", ["model"],
                  buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)),
    )
