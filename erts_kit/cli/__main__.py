"""``python -m erts_kit.cli ...``: the ``erts-kit`` command."""
import sys

from .commands import main

sys.exit(main())
