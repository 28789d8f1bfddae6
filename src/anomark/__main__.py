"""``python -m anomark``: the same as the ``anomark`` command (see :mod:`anomark.cli`)."""

from __future__ import annotations

import sys

from anomark.cli import main

if __name__ == "__main__":
    sys.exit(main())
