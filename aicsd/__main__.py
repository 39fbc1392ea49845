"""``python -m aicsd``: the command line of :mod:`aicsd.cli`."""

from aicsd.cli import main

raise SystemExit(main())
