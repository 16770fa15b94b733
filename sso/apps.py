from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Sign-in routing and identity providers"

    def ready(self) -> None:
        from console.context_processors import register_limits
        from sso.multitenant.models import MAX_EXTERNAL_TENANT, MAX_IDP_GROUP_NAME
        from sso.providers.models import MAX_SETTING_VALUE

        register_limits(
            external_tenant=MAX_EXTERNAL_TENANT,
            idp_group=MAX_IDP_GROUP_NAME,
            idp_value=MAX_SETTING_VALUE,
        )
