from os import PathLike
from typing import Any, Dict, List, Mapping, Optional, Union

_Scenario = Union[str, PathLike[str], Mapping[str, Any]]

class ScenarioError(ValueError):
    key: Optional[str]
    line: Optional[int]
    column: Optional[int]

class RunFailed(RuntimeError): ...

def run(scenario: _Scenario, *, audit: bool = ...) -> Dict[str, Any]: ...
def check(scenario: _Scenario) -> Dict[str, Any]: ...
def scenarios() -> List[str]: ...
