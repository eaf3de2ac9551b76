"""``python -m drumrnn``: the command line (what torchrun launches)."""

import sys

from drumrnn.cli import main

sys.exit(main())
