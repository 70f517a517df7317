"""``python -m privlog``: the same as the ``privlog`` command."""

import sys

from ._cli import main

sys.exit(main())
