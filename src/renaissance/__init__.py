"""renaissance-kinetics: kinetic models of metabolism parameterised by generator networks trained
with Natural Evolution Strategies (an open reimplementation of RENAISSANCE)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("renaissance-kinetics")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
