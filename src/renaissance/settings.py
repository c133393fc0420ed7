"""Unit settings shared by every stage (the reference pipeline's values by default), and the
settings that several stages share, declared once (:mod:`renaissance._declare`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._declare import POSITIVE, Declaration, Declared, Float, Int, Range, setting

#: the paper's validity criterion (1/h): a parameter set is valid when lambda_max <= this, i.e. its
#: slowest mode settles within 24 min; the one home of this default for every command and setting
VALID_LAMBDA_MAX = -2.5
#: the paper's range of every Michaelis constant (mol/L): 1.3 uM .. 20 mM, and its logarithm
KM_BOUNDS = (1.3e-6, 2e-2)
LN_KM_BOUNDS = (math.log(KM_BOUNDS[0]), math.log(KM_BOUNDS[1]))
#: the widest Km (any constant, mol/L) a file may give: 1 fM .. 100 M. No solute reaches 100 M
#: (pure water is 55 M) and no binding constant is below 1 fM; a value outside is a typo or a
#: wrong unit (1e300, 500 M), refused by the Km readers rather than computed with
KM_WINDOW = (1e-15, 1e2)

# --- settings several classes share, declared once (rule and default) -------------------------

#: a random seed, an int in [0, 2**63 - 1]: seeds are stored as int64 (checkpoints, population
#: attributes) and torch takes no seed of 2**64 or more ("Overflow when unpacking long long")
SEED = Declaration(Int(0, 2**63 - 1), 0)
#: the validity threshold of lambda_max, 1/h: a finite negative number (a valid model's slowest
#: mode decays; lambda_max >= 0 is not stable)
THRESHOLD = Declaration(Float(high=0.0, high_open=True), VALID_LAMBDA_MAX)
#: a ln(K / (mol/L)) range (low, high), stored as a tuple of floats
LN_KM_RANGE = Declaration(Range(), LN_KM_BOUNDS)
#: the return check of a robustness test (the study, its reward term, the landscape): every
#: balanced species perturbed to x*(1 +- p), p in [0, 1) ...
PERTURBATION = Declaration(Float(0.0, 1.0, high_open=True), 0.5)
#: ... checked some minutes later (> 0; no shared default: the reward checks at 24, the landscape at 34) ...
RETURN_TIME_MIN = Declaration(POSITIVE)
#: ... for a return within this relative tolerance (> 0)
RETURN_TOLERANCE = Declaration(POSITIVE, 0.01)


@dataclass(frozen=True, kw_only=True)
class UnitSettings(Declared, table="units"):
    """How measured quantities are converted into model units.

    Model concentrations are ``concentration_scale`` x mol/L (1e9: nmol/L), model time is
    ``time_scale`` hours (1: hours), and a flux in mmol/gDW/h becomes a volumetric rate in model
    concentration per model time by ``flux_factor = 1e-3 * density * gdw_per_gww *
    concentration_scale / time_scale`` (3e8 nmol/L/h per mmol/gDW/h with the defaults).

    Parameters
    ----------
    concentration_scale : float
        Model concentration units per mol/L (reference: 1e9).
    density : float
        Cell density in g/L (reference: 1200).
    gdw_per_gww : float
        Dry weight per wet weight (reference: 0.25).
    time_scale : float
        Hours per model time unit (reference: 1, i.e. model time in hours).
    """

    concentration_scale: float = setting(1e9, POSITIVE)
    density: float = setting(1200.0, POSITIVE)
    gdw_per_gww: float = setting(0.25, POSITIVE)
    time_scale: float = setting(1.0, POSITIVE)

    @property
    def flux_factor(self) -> float:
        """Model rate units (scaled mol/L per model time) per mmol/gDW/h."""
        return 1e-3 * self.density * self.gdw_per_gww * self.concentration_scale / self.time_scale

    @property
    def log_concentration_scale(self) -> float:
        """ln(concentration_scale): add to ln(x / (mol/L)) to get ln(x in model units)."""
        return math.log(self.concentration_scale)
