"""``python -m tap_proofpoint_tap.security_lake``: the same as ``proofpoint-tap-security-lake``."""

import sys

from tap_proofpoint_tap.security_lake.cli import main

if __name__ == "__main__":
    sys.exit(main())
