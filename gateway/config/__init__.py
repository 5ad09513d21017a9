from gateway.config.loader import ConfigError, load_config  # noqa: F401
