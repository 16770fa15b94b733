"""The snippet exporter: server settings as Helm values, docker-compose, env file or shell exports.

Every page and command that shows `CLEARML__…` variables goes through this package
(docs/snippets.md).

    from console.snippets import EnvSetting, render, FORMATS
    settings = [EnvSetting.for_path("apiserver.company.unique_names", True)]
    print(render(settings, "helm"))
"""

from .encoding import env_name_for_path, hocon_value, plain_value, server_path
from .render import (
    DEFAULT_SECRET_NAME,
    FORMATS,
    SECRET_MODES,
    SERVICES,
    EnvSetting,
    check_settings,
    render,
)

__all__ = [
    "DEFAULT_SECRET_NAME",
    "FORMATS",
    "SECRET_MODES",
    "SERVICES",
    "EnvSetting",
    "check_settings",
    "env_name_for_path",
    "hocon_value",
    "plain_value",
    "render",
    "server_path",
]
