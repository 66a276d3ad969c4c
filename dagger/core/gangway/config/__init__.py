"""pipeline.toml: the typed model, the layered loader and the generated reference."""

from gangway.config.document import REDACTED, config_document
from gangway.config.durations import Duration, format_duration, parse_duration
from gangway.config.loader import (
    AIRGAPPED_PROFILE,
    ENV_PREFIX,
    RESERVED_VARIABLES,
    load_config,
)
from gangway.config.model import (
    ENVIRONMENT_NAMES,
    EVENTS,
    SEVERITIES,
    AppConfig,
    ConfigOrigin,
    DatabaseConfig,
    EnvironmentConfig,
    EnvironmentsConfig,
    HealthConfig,
    ImageConfig,
    MigrationsConfig,
    NotificationsConfig,
    PipelineConfig,
    ProxyConfig,
    RegistryConfig,
    ScanConfig,
    ScanIgnore,
    WatchConfig,
    WebhookConfig,
)
from gangway.config.reference import render_reference

__all__ = [
    "AIRGAPPED_PROFILE",
    "ENVIRONMENT_NAMES",
    "ENV_PREFIX",
    "EVENTS",
    "REDACTED",
    "RESERVED_VARIABLES",
    "SEVERITIES",
    "AppConfig",
    "ConfigOrigin",
    "DatabaseConfig",
    "Duration",
    "EnvironmentConfig",
    "EnvironmentsConfig",
    "HealthConfig",
    "ImageConfig",
    "MigrationsConfig",
    "NotificationsConfig",
    "PipelineConfig",
    "ProxyConfig",
    "RegistryConfig",
    "ScanConfig",
    "ScanIgnore",
    "WatchConfig",
    "WebhookConfig",
    "config_document",
    "format_duration",
    "load_config",
    "parse_duration",
    "render_reference",
]
