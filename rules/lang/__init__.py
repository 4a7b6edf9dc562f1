"""The rule language: conditions, expressions and message templates over the vocabulary.

Rule text looks like Python and is read by Python's parser, but only a small
whitelist of its grammar is accepted, every name must be in
`rules.vocabulary.VOCABULARY`, and types are checked at load. What comes out
is a tree of closures (never `eval`), cheap enough to judge every rule of a
pack on every event:

>>> from types import SimpleNamespace as NS
>>> cond = compile_condition("loan.dpd >= 30 and loan.bucket != 'M1'")
>>> cond(NS(loan=NS(dpd=31, bucket="M2")))
True
>>> sorted(cond.names), cond.uses_event
(['loan.bucket', 'loan.dpd'], False)

See docs/rules.md for the grammar, the types and the None semantics.
"""

from __future__ import annotations

from rules.lang.compile import compile_condition, compile_expression
from rules.lang.exceptions import ExpressionError
from rules.lang.expression import Condition, Expression
from rules.lang.template import Template, compile_template

__all__ = [
    "Condition",
    "Expression",
    "ExpressionError",
    "Template",
    "compile_condition",
    "compile_expression",
    "compile_template",
]
