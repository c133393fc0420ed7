"""What is parameterised: the ``[problem]`` table of a training configuration and of a population.

The defaults every stage shares (the validity threshold, the Km bounds, the units) live one
layer lower, in :mod:`renaissance.settings`, so that stability and steady-state code can read
them without importing this package.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._declare import Declared, Int, setting
from ..config import ConfigError, build
from ..errors import SettingsError, located
from ..settings import UnitSettings

#: the file keys of a ``[problem]`` table, in the order they are written
PATH_KEYS = ("model", "steady_state", "states", "fixed_km", "constraints")


@dataclass(frozen=True, kw_only=True)
class ProblemSettings(Declared, table="problem"):
    """What is parameterised: a model, one steady state, optional fixed/measured Km.

    The state is ``steady_state`` (an ``id,kind,value`` CSV) or row ``state_index`` of a
    sampled-states file ``states``; exactly one of the two. ``constraints`` (optional): the
    constraints file the state was made under; its ``growth.reaction`` is the growth reaction of
    the robustness study and the bioreactor.
    """

    model: str
    steady_state: str | None = None
    states: str | None = None
    state_index: int = setting(0, Int(0))
    fixed_km: str | None = None
    constraints: str | None = None
    units: UnitSettings = field(default_factory=UnitSettings)

    def _check(self) -> None:
        """The state is one steady state or one row of a states file, not both."""
        if (self.steady_state is None) == (self.states is None):
            raise SettingsError("problem: give exactly one of steady_state and states")

    @property
    def state_label(self) -> str:
        """The state as messages name it: its CSV, or ``<states> state <i>``."""
        return self.steady_state or f"{self.states} state {self.state_index}"


def problem_from_table(table: dict, units: UnitSettings, base_dir: str | os.PathLike = ".",
                       source: str | None = None) -> ProblemSettings:
    """:class:`ProblemSettings` of a TOML ``[problem]`` table; relative paths resolve in ``base_dir``."""
    table = dict(table)
    if "model" not in table:
        raise ConfigError(located(source, "problem.model", "missing (path of a SKiMpy YAML model)"))
    for key in PATH_KEYS:
        if table.get(key) is not None:
            table[key] = str((Path(base_dir) / table[key]).resolve())
    return build(ProblemSettings, {**table, "units": units}, "problem", source)


def problem_to_table(problem: ProblemSettings, relative_to: str | os.PathLike | None = None) -> dict:
    """The ``[problem]`` table of ``problem`` (unset keys left out); with ``relative_to``, file
    paths relative to that folder (so the table moves with it)."""
    table = {k: v for k, v in asdict(problem).items() if k != "units" and v is not None}
    if relative_to is not None:
        for key in PATH_KEYS:
            if key in table:
                table[key] = os.path.relpath(Path(table[key]).resolve(), Path(relative_to).resolve())
    return table
