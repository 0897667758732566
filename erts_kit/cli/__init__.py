"""The ``erts-kit`` command: ``commands.py`` parses and dispatches, ``run.py`` does a command's work once its
output folder is locked, ``errors.py`` turns every error into one line and an exit code."""
from .commands import build_parser, load_config, main
from .errors import UserError, error_line

__all__ = ["UserError", "build_parser", "error_line", "load_config", "main"]
