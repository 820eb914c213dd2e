from os import PathLike
from typing import Any, Dict, List, Mapping, Optional, Union

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
def sweep(scenario: _Scenario, vary: List[str], *, audit: bool = ...) -> str: ...
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
) -> str: ...
def compare(
    scenario: _Scenario,
    presets: Optional[List[str]] = ...,
    *,
    positions: Optional[str] = ...,
    audit: bool = ...,
) -> str: ...
