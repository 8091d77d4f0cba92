"""`python -m assistant`: see `assistant.cli.main`."""

import sys

from assistant.cli.main import main

sys.exit(main())
