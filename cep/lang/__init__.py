"""The pattern language: parse, check and print pattern files.

``parse`` turns text into the frozen AST (:mod:`cep.lang.ast`), ``check`` lists every semantic
problem as diagnostics, ``check_source`` does both and raises, and ``format_file`` prints an AST
back in canonical layout.
"""

from cep.lang.checks import check, check_source
from cep.lang.parser import parse
from cep.lang.printer import format_file

__all__ = ["parse", "check", "check_source", "format_file"]
