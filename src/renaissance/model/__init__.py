"""Kinetic models: SKiMpy YAML I/O, mechanisms, structure, compiled rate laws."""

from .compiled import CompiledModel, compile_model
from .io import load_model, model_from_dict, model_to_dict, save_model
from .kinetic_model import KineticModel, Modifier, Reaction
from .structure import Structure, analyse_structure

__all__ = [
    "CompiledModel", "KineticModel", "Modifier", "Reaction", "Structure", "analyse_structure",
    "compile_model", "load_model", "model_from_dict", "model_to_dict", "save_model",
]
