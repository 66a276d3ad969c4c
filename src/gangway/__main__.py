"""Run the gangway command line as `python -m gangway`."""

from gangway.cli import main

raise SystemExit(main())
