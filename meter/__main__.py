"""`python -m meter`: see `meter.cli`."""

from meter.cli import main

raise SystemExit(main())
