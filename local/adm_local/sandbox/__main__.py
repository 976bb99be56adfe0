"""``python -m adm_local.sandbox --port N``: run the ADM sandbox in the foreground."""

from .cli import main

raise SystemExit(main())
