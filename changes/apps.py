from django.apps import AppConfig


class ChangesConfig(AppConfig):
    """The change pipeline: changesets planned, applied and audited the same way for every face."""

    name = "changes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the modules' periodic jobs (console.periodic) for the background worker.
        from . import usage  # noqa: F401
