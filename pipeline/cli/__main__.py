"""``python -m pipeline.cli``: the ``pipeline`` command without its script."""

import sys

from pipeline.cli import main

sys.exit(main())
