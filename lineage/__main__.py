"""``python -m lineage``: the ``lineage`` command (see :mod:`lineage.cli`)."""

import sys

from lineage.cli import main

sys.exit(main())
