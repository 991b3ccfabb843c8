"""mash: a BPMN-driven workflow engine for a children's services front door."""

from .ast_guard import install as _guard_ast

_guard_ast()  # before anything parses: see engine/ast_guard.py
