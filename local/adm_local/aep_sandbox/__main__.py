"""``python -m adm_local.aep_sandbox --port N``: run the AEP sandbox in the foreground."""

from .cli import main

raise SystemExit(main())
