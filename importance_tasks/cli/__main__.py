"""``python -m importance_tasks.cli``: the command line."""

import sys

from importance_tasks.cli.commands import main

sys.exit(main())
