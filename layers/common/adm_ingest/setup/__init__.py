"""One-time account setup: the config, the idempotent ``ensure_*`` steps and the operations.

The setup state machine (``functions/setup/setup.asl.json``) runs the steps through thin Lambda
handlers; ``adm-ingest setup`` runs the same definition locally.
"""

from adm_ingest.setup.config import ConfigError, SetupConfig, load_config, parse_config
from adm_ingest.setup.steps import ItemKind, ItemResult, Outcome

__all__ = [
    "ConfigError",
    "ItemKind",
    "ItemResult",
    "Outcome",
    "SetupConfig",
    "load_config",
    "parse_config",
]
