from django.apps import AppConfig


class MeteringConfig(AppConfig):
    """Usage and cost reports read from ClearML's metering service, kept for the pages."""

    name = "console.metering"
    label = "metering"
    default_auto_field = "django.db.models.BigAutoField"
