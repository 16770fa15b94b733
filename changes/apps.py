from django.apps import AppConfig


class ChangesConfig(AppConfig):
    """The change pipeline: changesets planned, applied and audited the same way for every face."""

    name = "changes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the worker's periodic jobs (the server-state refresh and drift, resumes).
        from . import periodic_jobs  # noqa: F401
