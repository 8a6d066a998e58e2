"""Evaluation of checked formulas against records: a reference tree-walker and a compiler
into closures that must agree with it."""

from calcformula.evaluator.compiled import CompiledFormula, CompileError
from calcformula.evaluator.context import EvalContext, PortalContext
from calcformula.evaluator.reference import evaluate_tree
from calcformula.evaluator.runtime import Evaluation, Record

__all__ = [
    "CompileError",
    "CompiledFormula",
    "EvalContext",
    "Evaluation",
    "PortalContext",
    "Record",
    "evaluate_tree",
]
