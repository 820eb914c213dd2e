from os import PathLike
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

_Scenario = Union[str, PathLike[str], Mapping[str, Any]]

class ScenarioError(ValueError):
    key: Optional[str]
    line: Optional[int]
    column: Optional[int]

class RunFailed(RuntimeError): ...

def run(
    scenario: _Scenario, *, positions: Optional[str] = ..., audit: bool = ..., events: bool = ...
) -> Dict[str, Any]: ...
def check(scenario: _Scenario, *, positions: Optional[str] = ...) -> Dict[str, Any]: ...
def scenarios() -> List[str]: ...
def sweep(
    scenario: _Scenario,
    vary: List[str],
    *,
    positions: Optional[str] = ...,
    audit: bool = ...,
    shard: Optional[Tuple[int, int]] = ...,
) -> str: ...
def sweep_points(vary: List[str]) -> int: ...
def sweep_critical(xs: List[float], bad_debt: List[float]) -> List[Optional[float]]: ...
def montecarlo(
    scenario: _Scenario,
    *,
    positions: Optional[str] = ...,
    paths: int = ...,
    seed: int = ...,
    rounds: int = ...,
    drift: float = ...,
    volatility: float = ...,
    correlation: float = ...,
    jump_probability: float = ...,
    jump_size: float = ...,
    audit: bool = ...,
    shard: Optional[Tuple[int, int]] = ...,
) -> str: ...
def montecarlo_tail(losses: List[float]) -> str: ...
def compare(
    scenario: _Scenario,
    presets: Optional[List[str]] = ...,
    *,
    positions: Optional[str] = ...,
    audit: bool = ...,
) -> str: ...
