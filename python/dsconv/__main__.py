"""`python -m dsconv`: see dsconv._main (the main job), `bench` and `roofline` sub-commands."""

import sys

from ._main import main

sys.exit(main())
