"""A kinetic model at one steady state, built once (:class:`ParameterisedModel`), what is
parameterised (:class:`ProblemSettings`), the Km held fixed, and the population file format.

Everything after the steady state (training, generation, robustness, the bioreactor, the
exports) works on a :class:`ParameterisedModel`; :func:`open_population` returns a population
with its model. Nothing here imports torch.
"""

from .fixed import FixedKm, read_fixed_km
from .model import ParameterisedModel, ProblemFiles, parameterise
from .population import Population, PopulationWriter, open_population, read_population
from .settings import ProblemSettings

__all__ = [
    "FixedKm", "ParameterisedModel", "Population", "PopulationWriter", "ProblemFiles", "ProblemSettings",
    "open_population", "parameterise", "read_fixed_km", "read_population",
]
