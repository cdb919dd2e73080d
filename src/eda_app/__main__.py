"""``python -m eda_app``: see :mod:`eda_app.cli`."""

from __future__ import annotations

import sys

from eda_app.cli import main

sys.exit(main())
