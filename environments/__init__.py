"""Environment configuration: one TOML file per environment, loaded typed, frozen and validated."""

from .config import (  # noqa: F401
    ALL_ENVIRONMENTS,
    PROMOTION_ORDER,
    ConfigError,
    EnvironmentConfig,
    load_all,
    load_environment,
    load_environment_file,
)
