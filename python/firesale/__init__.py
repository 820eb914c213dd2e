"""firesale from Python: liquidation cascades, exactly.

The same engine and the same scenario files as the ``firesale`` command:
``firesale.run("default")`` gives the digest ``firesale run default`` prints.

A *scenario* is a bundled name (``firesale.scenarios()``), a path, TOML text,
or a dict of the scenario file's schema (docs/scenario.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
import os
from typing import Any, Dict, List, Mapping, Optional, Union

from ._firesale import RunFailed, ScenarioError
from ._firesale import check as _check
from ._firesale import compare as _compare
from ._firesale import montecarlo as _montecarlo
from ._firesale import run as _run
from ._firesale import scenarios as _scenarios
from ._firesale import sweep as _sweep

__all__ = [
    "MonteCarlo",
    "Report",
    "RunFailed",
    "ScenarioError",
    "Sweep",
    "check",
    "compare",
    "montecarlo",
    "run",
    "scenarios",
    "sweep",
]


def _table(columns: Dict[str, List[Any]]) -> Any:
    """Columns as a pandas DataFrame if pandas is installed, else a dict of
    numpy arrays if numpy is, else the dict of lists."""
    try:
        import pandas
    except ImportError:
        pandas = None
    if pandas is not None:
        return pandas.DataFrame(columns)
    try:
        import numpy
    except ImportError:
        return dict(columns)
    return {name: numpy.asarray(values) for name, values in columns.items()}


def _rows(rows: List[Dict[str, Any]], first: Dict[str, List[Any]]) -> Dict[str, List[Any]]:
    """`first`'s columns, then one column per key of the rows."""
    columns = dict(first)
    for key in rows[0] if rows else []:
        columns[key] = [row[key] for row in rows]
    return columns


@dataclass(frozen=True)
class Report:
    """What a run did.

    ``summary`` holds the fields of ``firesale run --json`` (bad debt,
    liquidations, per-asset paths under ``"assets"``, the termination);
    ``timeline`` one row per round, with the columns of ``timeline.csv``;
    ``digest`` the engine's digest of its final state, the CLI's.
    """

    summary: Dict[str, Any]
    text: str
    digest: str
    _columns: Dict[str, List[float]] = field(repr=False)
    _events: Optional[str] = field(default=None, repr=False)

    @property
    def events(self) -> List[Dict[str, Any]]:
        """The run's events, one dict each, as ``events.jsonl`` lists them
        (docs/report.md): only for ``run(..., events=True)``."""
        if self._events is None:
            raise ValueError("no events kept: run with events=True")
        return [json.loads(line) for line in self._events.splitlines() if line]

    @property
    def timeline(self) -> Any:
        """The per-round timeline: a pandas DataFrame if pandas is installed,
        else a dict of numpy arrays if numpy is, else a dict of lists."""
        return _table(self._columns)

    @property
    def assets(self) -> Any:
        """Per-asset figures (prices, what was sold and bought, losses), one
        row per asset: a pandas DataFrame if pandas is installed, else a list
        of dicts."""
        rows = self.summary["assets"]
        try:
            import pandas
        except ImportError:
            return list(rows)
        return pandas.DataFrame(rows).set_index("name")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Sweep:
    """A sweep's grid: ``document`` is ``firesale sweep --json``."""

    document: Dict[str, Any]

    @property
    def points(self) -> Any:
        """One row per grid point: the varied keys, then the point's bad
        debt, amplification, liquidations, rounds, termination and digest."""
        keys = [axis["key"] for axis in self.document["axes"]]
        rows = [{k: v for k, v in p.items() if k != "at"} for p in self.document["points"]]
        at = {key: [p["at"][i] for p in self.document["points"]] for i, key in enumerate(keys)}
        return _table(_rows(rows, at))

    @property
    def critical(self) -> List[Optional[float]]:
        """Per value of the second axis (one entry with a single axis), the
        first value of the first axis whose point has bad debt, or None."""
        return list(self.document["critical"])


@dataclass(frozen=True)
class MonteCarlo:
    """A Monte Carlo study: ``document`` is ``firesale montecarlo --json``."""

    document: Dict[str, Any]

    @property
    def bad_debt(self) -> Dict[str, float]:
        """The bad debt's tail over the paths: mean, probability of a loss,
        VaR and expected shortfall at 95% and 99%, the worst path."""
        return dict(self.document["bad_debt"])

    @property
    def paths(self) -> Any:
        """One row per path, in path order: its figures."""
        rows = self.document["paths"]
        return _table(_rows(rows, {"path": list(range(len(rows)))}))


Scenario = Union[str, "os.PathLike[str]", Mapping[str, Any]]
Positions = Any


def _positions_csv(positions: Positions) -> Optional[str]:
    """Positions as the CSV a positions file holds (``account,asset,balance``):
    from a pandas DataFrame with those columns, a mapping of the three
    columns (lists or numpy arrays), or CSV text as is. Balances are written
    as Python writes the number (the shortest text that reads back as the
    same float), and read exactly from that text."""
    if positions is None or isinstance(positions, str):
        return positions
    columns = ("account", "asset", "balance")
    if hasattr(positions, "to_csv"):
        return positions.to_csv(index=False, columns=list(columns), lineterminator="\n")
    try:
        account, asset, balance = (list(positions[c]) for c in columns)
    except (KeyError, TypeError) as e:
        raise TypeError(
            "positions are a DataFrame or a mapping with columns account, asset and balance, or CSV text"
        ) from e
    if not len(account) == len(asset) == len(balance):
        raise ValueError("positions: the account, asset and balance columns differ in length")
    lines = ["account,asset,balance"]
    for a, s, b in zip(account, asset, balance):
        if "," in str(s) or "\n" in str(s) or '"' in str(s):
            raise ValueError(f"positions: asset name {s!r} holds a comma, a quote or a line break")
        lines.append(f"{int(a)},{s},{float(b)!r}")
    return "\n".join(lines) + "\n"


def run(
    scenario: Scenario, *, positions: Positions = None, audit: bool = False, events: bool = False
) -> Report:
    """Runs ``scenario`` to its end and returns its :class:`Report`.

    ``positions`` (a DataFrame or a mapping with columns ``account``,
    ``asset``, ``balance``, or CSV text) stand for the file the scenario's
    ``accounts.positions`` would name, read the same way.

    ``audit=True`` checks the engine's conservation audit after every unit
    that moved anything (``firesale run --audit``); a book that does not
    balance raises :class:`RunFailed`. A scenario that cannot be read raises
    :class:`ScenarioError`, whose ``key``, ``line`` and ``column`` say where.
    ``events=True`` keeps the event log (``Report.events``): a line of JSON
    an event, so a large cascade's log is large. The engine runs without
    the GIL.
    """
    out = _run(scenario, positions=_positions_csv(positions), audit=audit, events=events)
    return Report(
        summary=json.loads(out["report"]),
        text=out["summary"],
        digest=out["digest"],
        _columns=out["timeline"],
        _events=out.get("events"),
    )


def check(scenario: Scenario, *, positions: Positions = None) -> Dict[str, Any]:
    """Reads and validates ``scenario`` (and ``positions``, as :func:`run`
    takes them) as ``firesale check`` does, without running it: its name
    and its counts of assets, accounts and shocks."""
    return _check(scenario, positions=_positions_csv(positions))


def scenarios() -> List[str]:
    """The names of the bundled scenarios."""
    return _scenarios()


def sweep(
    scenario: Scenario,
    vary: Union[str, List[str]],
    *,
    positions: Positions = None,
    audit: bool = False,
    cluster: Union[bool, str, None] = None,
    shards: Optional[int] = None,
) -> Sweep:
    """Runs ``scenario`` at every point of one or two axes, as ``firesale
    sweep``: each axis ``"key=from:to:count"`` (``count`` evenly spaced values,
    both ends included), the key a path into the scenario such as
    ``"shocks[0].move_price"``. ``positions`` as :func:`run` takes them,
    read again at every point. Points run in parallel, without the GIL;
    with ``cluster=`` in shards on Ray, as :func:`montecarlo`."""
    axes = [vary] if isinstance(vary, str) else list(vary)
    csv = _positions_csv(positions)
    if cluster is None or cluster is False:
        return Sweep(json.loads(_sweep(scenario, axes, positions=csv, audit=audit)))
    from . import cluster as _cluster

    if isinstance(scenario, os.PathLike):
        scenario = os.fspath(scenario)
    return Sweep(_cluster.sweep(scenario, axes, (csv, audit), cluster, shards))


def montecarlo(
    scenario: Scenario,
    *,
    positions: Positions = None,
    paths: int = 1000,
    seed: int = 1,
    rounds: int = 5,
    drift: float = -0.01,
    volatility: float = 0.05,
    correlation: float = 0.8,
    jump_probability: float = 0.05,
    jump_size: float = 0.25,
    audit: bool = False,
    cluster: Union[bool, str, None] = None,
    shards: Optional[int] = None,
) -> MonteCarlo:
    """Runs ``scenario`` over ``paths`` random shock paths, as ``firesale
    montecarlo`` with the same options and defaults: the same seed gives the
    same paths, figures and tail. Paths run in parallel, without the GIL.

    ``cluster=True`` (the Ray instance this process initialised, else a new
    local one) or ``cluster="ray://host:10001"`` (an address) runs the paths
    in ``shards`` contiguous shards (default: the cluster's CPUs) on Ray's
    workers and merges them in path order: the same document, float for
    float, as one process (:mod:`firesale.cluster`). On a remote cluster
    pass the scenario as a bundled name, TOML text or a dict (a path names
    a file on this machine only)."""
    options: Dict[str, Any] = dict(
        positions=_positions_csv(positions),
        paths=paths,
        seed=seed,
        rounds=rounds,
        drift=drift,
        volatility=volatility,
        correlation=correlation,
        jump_probability=jump_probability,
        jump_size=jump_size,
        audit=audit,
    )
    if cluster is None or cluster is False:
        return MonteCarlo(json.loads(_montecarlo(scenario, **options)))
    from . import cluster as _cluster

    if isinstance(scenario, os.PathLike):
        scenario = os.fspath(scenario)
    return MonteCarlo(_cluster.montecarlo(scenario, options, cluster, shards))


def compare(
    scenario: Scenario,
    presets: Optional[List[str]] = None,
    *,
    positions: Positions = None,
    audit: bool = False,
) -> Dict[str, Report]:
    """Runs ``scenario`` under each protocol preset (all of them by default,
    or those named), as ``firesale compare``: the reports by preset name, in
    the order given. Their ``timeline`` is empty: compare keeps the reports
    only (run a preset's scenario with :func:`run` for its timeline)."""
    document = json.loads(
        _compare(scenario, presets, positions=_positions_csv(positions), audit=audit)
    )
    return {
        r["preset"]: Report(summary=r["report"], text="", digest=r["report"]["digest"], _columns={})
        for r in document["runs"]
    }
