"""Evaluation of checked formulas against records: a reference tree-walker and a compiler."""
