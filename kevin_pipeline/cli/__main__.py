"""`python -m kevin_pipeline.cli`: the `kevin` command without its console script."""

import sys

from kevin_pipeline.cli import main

sys.exit(main())
