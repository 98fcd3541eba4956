"""A safe evaluator for row filters such as ``"N > 50 and abs(b) < 10"``.

The expression is parsed with :mod:`ast` and only a small grammar is accepted: column names,
numbers and strings, comparisons (chained too), ``and``/``or``/``not``, arithmetic
(``+ - * / ** %``), unary minus and the functions in :data:`FUNCTIONS`. Nothing is passed to
:func:`eval`; attribute access, subscripts, calls of anything else and comprehensions are
rejected with a message naming what is not allowed.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping

import numpy as np

from vo_ocml.errors import InputError

__all__ = ["FUNCTIONS", "evaluate_where"]

#: functions an expression may call, element-wise on columns
FUNCTIONS = {"abs": np.abs, "sqrt": np.sqrt, "log10": np.log10, "isfinite": np.isfinite,
             "cos": lambda x: np.cos(np.radians(x)), "sin": lambda x: np.sin(np.radians(x))}

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}


def _eval(node: ast.AST, columns: Mapping[str, np.ndarray], text: str):
    if isinstance(node, ast.Expression):
        return _eval(node.body, columns, text)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in columns:
            raise InputError(f"Unknown column {node.id!r} in the filter {text!r}; the columns "
                             f"are: {', '.join(sorted(columns))}.")
        return columns[node.id]
    if isinstance(node, ast.BoolOp):
        values = [np.asarray(_eval(v, columns, text), dtype=bool) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = values[0]
        for v in values[1:]:
            out = combine(out, v)
        return out
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, columns, text)
        if isinstance(node.op, ast.Not):
            return np.logical_not(value)
        if isinstance(node.op, ast.USub):
            return -np.asarray(value)
        if isinstance(node.op, ast.UAdd):
            return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](np.asarray(_eval(node.left, columns, text)),
                                      np.asarray(_eval(node.right, columns, text)))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _eval(node.left, columns, text)
        out = None
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, columns, text)
            part = _COMPARE[type(op)](np.asarray(left), np.asarray(right))
            out = part if out is None else np.logical_and(out, part)
            left = right
        return out
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in FUNCTIONS and not node.keywords and len(node.args) == 1:
        return FUNCTIONS[node.func.id](np.asarray(_eval(node.args[0], columns, text), float))
    snippet = ast.get_source_segment(text, node) or type(node).__name__
    raise InputError(f"Not allowed in a filter: {snippet!r} (in {text!r}). Use column names, "
                     "numbers, comparisons, and/or/not, + - * / ** and "
                     f"{', '.join(FUNCTIONS)}().")


def evaluate_where(text: str, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate a filter expression over columns of equal length.

    Parameters
    ----------
    text : str
        E.g. ``"N > 50"``, ``"parallax > 1 and abs(b) < 10"``, ``"10 < ra < 20"``.
    columns : mapping of str to ndarray
        Column name → values (one entry per row).

    Returns
    -------
    ndarray of bool
        The rows that pass (NaN compares false, so rows missing a value fail).

    Raises
    ------
    InputError
        A syntax error, an unknown column, or a construct outside the grammar.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InputError(f"Cannot parse the filter {text!r}: {exc.msg}.") from None
    n = len(next(iter(columns.values()))) if columns else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.asarray(_eval(tree, columns, text))
    if result.dtype != bool:
        raise InputError(f"The filter {text!r} does not give true/false per row (it gives "
                         f"{result.dtype} values); compare with something, e.g. 'N > 50'.")
    return np.broadcast_to(result, (n,)).copy()
