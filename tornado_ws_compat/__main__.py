"""``python -m tornado_ws_compat serve|check CONFIG.yaml`` (see :mod:`tornado_ws_compat.cli`)."""

import sys

from tornado_ws_compat.cli import main

if __name__ == "__main__":
    sys.exit(main())
