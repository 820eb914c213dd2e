"""A Monte Carlo study sharded over a local Ray instance gives what one
process gives, float for float (issue 23's floor)."""

import os

import pytest

import firesale
from firesale import cluster

# CI installs Ray (the `test` extra): there a missing Ray fails, not skips.
ray = __import__("ray") if os.environ.get("CI") else pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_shards_cover_the_paths_in_order():
    assert cluster.shards(10, 3) == [(0, 4), (4, 3), (7, 3)]
    assert cluster.shards(2, 8) == [(0, 1), (1, 1)]
    assert cluster.shards(5, 1) == [(0, 5)]


def test_a_study_on_ray_is_the_study_in_one_process(local_ray):
    options = dict(paths=1000, seed=11, rounds=4, jump_probability=0.3, jump_size=0.35)
    one = firesale.montecarlo("default", **options)
    sharded = firesale.montecarlo("default", cluster=True, shards=7, **options)
    assert sharded.document == one.document
    # The study is not trivial: paths differ and some lose.
    digests = {p["digest"] for p in one.document["paths"]}
    assert len(digests) > 900
    assert one.bad_debt["probability_of_loss"] > 0


def test_a_shard_past_the_study_is_refused():
    with pytest.raises(firesale.ScenarioError, match="not within"):
        cluster.run_shard("default", dict(paths=10), (8, 5))


def test_a_sweep_on_ray_is_the_sweep_in_one_process(local_ray):
    vary = ["shocks[0].move_price=0.95:0.5:10", "insurance_fund=0:200000:3"]
    one = firesale.sweep("default", vary)
    sharded = firesale.sweep("default", vary, cluster=True, shards=4)
    assert sharded.document == one.document
    # Some rows reach bad debt within the grid, some points are clean.
    assert any(c is not None for c in one.document["critical"])
    assert any(p["bad_debt"] == 0 for p in one.document["points"])
