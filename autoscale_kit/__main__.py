"""`python -m autoscale_kit` is the same as the `autoscale-kit` command."""

from autoscale_kit.cli.main import main

raise SystemExit(main())
