from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from console.context_processors import register_limits
        from tenants.groups.models import MAX_DISPLAY_NAME, MAX_GROUP_NAME
        from tenants.models import MAX_ADMIN_NAME, MAX_TENANT_NAME

        register_limits(
            tenant_name=MAX_TENANT_NAME,
            admin_name=MAX_ADMIN_NAME,
            group_name=MAX_GROUP_NAME,
            display_name=MAX_DISPLAY_NAME,
        )
