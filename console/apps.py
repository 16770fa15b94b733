from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "ClearML Tenant Console"

    def ready(self):
        # Sign-ins and sign-outs (Django's signals) keep people's session records.
        from .accounts import sessions  # noqa: F401

        # The audit log's periodic jobs (sink delivery, archiving) register with the worker.
        from .audit import jobs  # noqa: F401
