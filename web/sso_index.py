"""`/sso/`: the index of the sign-in sections (routing, identity providers, multi-tenant login)."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sso.models import LoginDomain, WhitelistEntry
from sso.multitenant.models import TenantSSOConfig
from sso.multitenant.services import mtl_values, multi_tenant_login
from sso.providers.models import IdentityProvider


@never_cache
@require_GET
def sso_index(request):
    context = {
        "domains": LoginDomain.objects.count(),
        "whitelisted": WhitelistEntry.objects.count(),
        "providers": list(IdentityProvider.objects.values_list("provider", flat=True)),
        "tenant_sso": TenantSSOConfig.objects.count(),
        "mtl": mtl_values(multi_tenant_login()),
    }
    return render(request, "sso/index.html", context)
