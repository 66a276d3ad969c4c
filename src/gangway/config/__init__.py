"""pipeline.toml: the typed model, the layered loader and the generated reference."""

from gangway.config.document import REDACTED, config_document
from gangway.config.durations import Duration, format_duration, parse_duration
from gangway.config.environment import (
    EnvironmentConfig,
    EnvironmentsConfig,
    HealthConfig,
    MigrationsConfig,
    WatchConfig,
)
from gangway.config.loader import (
    AIRGAPPED_PROFILE,
    ENV_PREFIX,
    RESERVED_VARIABLES,
    load_config,
)
from gangway.config.model import (
    AppConfig,
    ConfigOrigin,
    DatabaseConfig,
    ImageConfig,
    NotificationsConfig,
    PipelineConfig,
    ProxyConfig,
    RegistryConfig,
    ScanConfig,
    ScanIgnore,
    StagesConfig,
    WebhookConfig,
)
from gangway.config.reference import render_reference
from gangway.config.types import ENVIRONMENT_NAMES, EVENTS, SEVERITIES

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
    "StagesConfig",
    "WatchConfig",
    "WebhookConfig",
    "config_document",
    "format_duration",
    "load_config",
    "parse_duration",
    "render_reference",
]
