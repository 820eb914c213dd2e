"""Times a Monte Carlo study in one process and sharded on a local Ray
instance, and checks that both give the same document (docs/python.md).

    python docs/examples/ray_speed.py [paths]
"""

import sys
import time

import ray

import firesale

paths = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
options = dict(paths=paths, seed=11, rounds=4, jump_probability=0.3, jump_size=0.35)
start = time.perf_counter()
one = firesale.montecarlo("default", **options)
alone = time.perf_counter() - start
start = time.perf_counter()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
print(f"ray.init: {time.perf_counter() - start:.2f} s")
for shards in (2, 8):
    start = time.perf_counter()
    sharded = firesale.montecarlo("default", cluster=True, shards=shards, **options)
    took = time.perf_counter() - start
    assert sharded.document == one.document
    print(f"Ray, {shards} shards: {took:.2f} s (the same document)")
print(f"one process: {alone:.2f} s, {alone / paths * 1e3:.2f} ms a path")
