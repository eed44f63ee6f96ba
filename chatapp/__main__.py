"""`python -m chatapp`: the same as the `chatapp` command."""

import sys

from chatapp.cli import main

sys.exit(main())
