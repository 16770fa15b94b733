"""The public ClearML documentation pages the console's pages link to, instead of paraphrasing.

Each page's "How this works" section links the doc page it follows (templates: `{{ docs.x }}`).
The identity providers' own pages are in sso/providers/catalog.py (ProviderDef.docs_url).
"""

BASE = "https://clear.ml/docs/latest/docs/"
ENTERPRISE = BASE + "deploying_clearml/enterprise_deploy/"
MULTI_TENANT = ENTERPRISE + "multi_tenant_k8s"

DOCS = {
    "tenants": MULTI_TENANT + "#create-a-tenant",
    "routing": MULTI_TENANT + "#create-idpsso-sign-in-rules",
    "groups": MULTI_TENANT + "#configuring-groups",
    "cross_tenant_groups": MULTI_TENANT + "#configuring-cross-tenant-groups",
    "features": MULTI_TENANT + "#feature-assignment-strategy",
    "available_features": MULTI_TENANT + "#available-features",
    "delete_tenant": ENTERPRISE + "delete_tenant",
    "multi_tenant_login": ENTERPRISE + "sso_multi_tenant_login",
    "identity_providers": BASE + "webapp/settings/webapp_settings_id_providers",
    "security": BASE + "deploying_clearml/clearml_server_security",
    "server_secrets": BASE
    + "deploying_clearml/clearml_server_security#server-credentials-and-secrets",
}
