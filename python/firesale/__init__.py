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
from typing import Any, Dict, List, Mapping, Union

from ._firesale import RunFailed, ScenarioError
from ._firesale import check as _check
from ._firesale import run as _run
from ._firesale import scenarios as _scenarios

__all__ = ["Report", "RunFailed", "ScenarioError", "check", "run", "scenarios"]


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

    @property
    def timeline(self) -> Any:
        """The per-round timeline: a pandas DataFrame if pandas is installed,
        else a dict of numpy arrays if numpy is, else a dict of lists."""
        try:
            import pandas
        except ImportError:
            pandas = None
        if pandas is not None:
            return pandas.DataFrame(self._columns)
        try:
            import numpy
        except ImportError:
            return dict(self._columns)
        return {name: numpy.asarray(values) for name, values in self._columns.items()}

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


Scenario = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def run(scenario: Scenario, *, audit: bool = False) -> Report:
    """Runs ``scenario`` to its end and returns its :class:`Report`.

    ``audit=True`` checks the engine's conservation audit after every unit
    that moved anything (``firesale run --audit``); a book that does not
    balance raises :class:`RunFailed`. A scenario that cannot be read raises
    :class:`ScenarioError`, whose ``key``, ``line`` and ``column`` say where.
    The engine runs without the GIL.
    """
    out = _run(scenario, audit=audit)
    return Report(
        summary=json.loads(out["report"]),
        text=out["summary"],
        digest=out["digest"],
        _columns=out["timeline"],
    )


def check(scenario: Scenario) -> Dict[str, Any]:
    """Reads and validates ``scenario`` as ``firesale check`` does, without
    running it: its name and its counts of assets, accounts and shocks."""
    return _check(scenario)


def scenarios() -> List[str]:
    """The names of the bundled scenarios."""
    return _scenarios()
