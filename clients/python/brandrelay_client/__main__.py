"""`python -m brandrelay_client` is the `brandrelay` command."""

from brandrelay_client.cli import main

raise SystemExit(main())
