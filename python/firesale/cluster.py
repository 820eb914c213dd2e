"""Monte Carlo studies and sweeps sharded over a Ray cluster
(docs/python.md).

Path ``i`` of a study is drawn from a generator seeded by ``(seed, i)``
alone, and a sweep's point is its scenario at its coordinates, so each is
the same on whichever worker runs it. A study (a sweep) is cut into
contiguous shards of paths (of points in grid order); each shard runs on a
worker through this package (the kernel's own code, all the worker's
cores); the shards' figures are concatenated in order and what spans them
(the bad debt's tail, the sweep's critical values) is computed once over
all of them by the code a single run uses. The merged document is
therefore identical to one process's, float for float.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple, Union

from ._firesale import montecarlo as _montecarlo
from ._firesale import montecarlo_tail as _montecarlo_tail
from ._firesale import sweep as _sweep
from ._firesale import sweep_critical as _sweep_critical
from ._firesale import sweep_points as _sweep_points

Cluster = Union[bool, str]


def shards(paths: int, count: int) -> List[Tuple[int, int]]:
    """``paths`` cut into at most ``count`` contiguous ``(first, count)``
    shards, the first ones a path longer when they do not divide evenly."""
    count = max(1, min(count, paths))
    size, extra = divmod(paths, count)
    out, first = [], 0
    for k in range(count):
        n = size + (1 if k < extra else 0)
        out.append((first, n))
        first += n
    return out


def run_shard(scenario: Any, options: Dict[str, Any], shard: Tuple[int, int]) -> str:
    """One shard's document (JSON text): what a worker runs."""
    return _montecarlo(scenario, shard=shard, **options)


def run_sweep_shard(
    scenario: Any, axes: List[str], options: Tuple[Optional[str], bool], shard: Tuple[int, int]
) -> str:
    """One sweep shard's document (JSON text): what a worker runs;
    ``options`` are the positions (CSV text) and the audit flag."""
    positions, audit = options
    return _sweep(scenario, axes, positions=positions, audit=audit, shard=shard)


def merge_sweep(documents: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The sweep's document from its shards' documents, in grid order."""
    points = [p for d in documents for p in d["points"]]
    first = documents[0]
    xs = [float(x) for x in first["axes"][0]["values"]]
    critical = _sweep_critical(xs, [float(p["bad_debt"]) for p in points])
    return {
        "scenario": first["scenario"],
        "axes": first["axes"],
        "metric": first["metric"],
        "points": points,
        "critical": critical,
    }


def merge(documents: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The study's document from its shards' documents, in path order."""
    paths = [p for d in documents for p in d["paths"]]
    tail = json.loads(_montecarlo_tail([float(p["bad_debt"]) for p in paths]))
    first = documents[0]
    return {
        "scenario": first["scenario"],
        "model": first["model"],
        "bad_debt": tail,
        "paths": paths,
    }


def _ray(cluster: Cluster) -> Any:
    """Ray, connected: to ``cluster`` when it is an address, else to the
    instance already initialised in this process, else to a new local one."""
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ImportError("cluster= needs Ray: pip install 'ray>=2'") from e
    if not ray.is_initialized():
        if isinstance(cluster, str):
            ray.init(address=cluster)
        else:
            ray.init()
    return ray


def montecarlo(
    scenario: Any,
    options: Dict[str, Any],
    cluster: Cluster,
    shard_count: Optional[int],
) -> Dict[str, Any]:
    """Runs the study ``options`` describes in shards on Ray; the merged
    document. ``shard_count`` defaults to the cluster's CPUs."""
    ray = _ray(cluster)
    count = shard_count or max(1, int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(run_shard)
    refs = [task.remote(scenario, options, s) for s in shards(options["paths"], count)]
    return merge([json.loads(text) for text in ray.get(refs)])


def sweep(
    scenario: Any,
    axes: List[str],
    options: Tuple[Optional[str], bool],
    cluster: Cluster,
    shard_count: Optional[int],
) -> Dict[str, Any]:
    """Runs the sweep of ``axes`` in shards on Ray; the merged document.
    ``shard_count`` defaults to the cluster's CPUs."""
    points = _sweep_points(axes)
    ray = _ray(cluster)
    count = shard_count or max(1, int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(run_sweep_shard)
    refs = [task.remote(scenario, axes, options, s) for s in shards(points, count)]
    return merge_sweep([json.loads(text) for text in ray.get(refs)])
