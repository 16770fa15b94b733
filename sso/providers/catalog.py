"""The identity providers ClearML supports and, for each, exactly the variables its docs page names.

One definition per provider drives everything else: the browser form, the SPEC validation of
`identity_providers` (docs/spec.md), and the snippet exporter. A field's `key` is the tail of the
variable name with each `__` written as `.` (`groups.enabled` is `…__groups__enabled`); its
`section` says which prefix the variable gets (`secure` or `services`, and for LDAP `apiserver`).

Sources: the ClearML docs pages sso_*.md (one page per provider) and its Keycloak guide.
Auth0 has no page among the references; its variables come from ClearML's public Kubernetes SSO
setup page (deploying_clearml/enterprise_deploy/..., "SSO (Identity Provider) Setup", section
"Auth0"), which names `client_id`, `client_secret`, `base_url`, `authorize_url`,
`access_token_url` and `audience`.

Where a docs page shows a form the apiserver would misread, the field's `docs_note` says what the
console writes instead and why; the provider page shows those notes ("ClearML
documentation traps").
"""

from dataclasses import dataclass

# Sections: where the variable lives.
SECURE = "secure"
SERVICES = "services"
APISERVER = "apiserver"

# Field types.
STR = "str"  # a string
URL = "url"  # an https URL (http only with the provider's explicit "allow http")
BOOL = "bool"  # true / false; unset means the server's default
LIST = "list"  # a list of strings, exported as a JSON list
SECRET = "secret"  # noqa: S105 - write-only in the UI; a literal, or env:NAME read at export time
COMPANY = "company"  # a ClearML company id, or tenant:<name>
PATH = "path"  # an absolute file path inside the apiserver container
CHOICE = "choice"  # one of `choices`
MAP = "map"  # name -> string; each name becomes one more `__` segment
TYPES = (STR, URL, BOOL, LIST, SECRET, COMPANY, PATH, CHOICE, MAP)

OAUTH = "oauth"
SAML = "saml"
LDAP = "ldap"
PROTOCOL_LABELS = {OAUTH: "OAuth / OpenID Connect", SAML: "SAML", LDAP: "LDAP"}

# The public ClearML docs: a provider's page is <SSO_DOCS_URL><page name without .md>.
SSO_DOCS_URL = (
    "https://clear.ml/docs/latest/docs/deploying_clearml/enterprise_deploy/extra_configs/sso/"
)

# Where the Helm chart mounts `apiserver.additionalConfigs` files (google_saml, microsoft_ad).
ADDITIONAL_CONFIGS_DIR = "/opt/clearml/config/default"


@dataclass(frozen=True)
class FieldDef:
    key: str
    section: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    allow_empty: bool = False  # "" is a meaningful value (Keycloak admin_role: "" disables it)
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    group: str = "Connection"  # the fieldset in the form
    docs_note: str = ""  # where the console differs from the docs page, and why
    env_ok: bool = False  # a STR that may also be written env:NAME (client ids, per the pages)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))

    @property
    def is_secret(self) -> bool:
        return self.type == SECRET


@dataclass(frozen=True)
class ProviderDef:
    key: str  # the name in the variable names and in the SPEC's `provider`
    label: str
    protocol: str
    docs: str  # the ClearML docs page (file name)
    prefixes: dict[str, str]  # section -> variable name prefix, ending with "__"
    fields: tuple[FieldDef, ...]
    callback: str = ""  # path on the web app to register at the IdP ("" for LDAP)
    steps: tuple[str, ...] = ()  # what to do on the provider's side, in order
    fixed: tuple[tuple[str, object], ...] = ()  # variables always set with the provider
    notes: tuple[str, ...] = ()  # provider-wide docs traps and assumptions
    documented: bool = True  # False: no page among the references (see the module docstring)

    def field(self, key: str) -> FieldDef | None:
        return self._by_key.get(key)

    @property
    def docs_url(self) -> str:
        """The public URL of the provider's ClearML docs page ("" when it has none)."""
        page = self.docs.split()[0] if self.docs else ""
        if not (page.startswith("sso_") and page.endswith(".md")):
            return ""
        return SSO_DOCS_URL + page.removesuffix(".md")

    @property
    def _by_key(self) -> dict[str, FieldDef]:
        return {f.key: f for f in self.fields}

    @property
    def discovery(self) -> bool:
        """Whether 'Fill from discovery' applies: an OpenID provider with endpoint fields."""
        return self.protocol == OAUTH and self.field("authorize_url") is not None

    @property
    def secret_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.is_secret)

    @property
    def groups(self) -> list[tuple[str, list[FieldDef]]]:
        out: dict[str, list[FieldDef]] = {}
        for f in self.fields:
            out.setdefault(f.group, []).append(f)
        return list(out.items())

    def variable(self, f: FieldDef, extra: str = "") -> str:
        """The full variable name; `extra` is a MAP entry's name."""
        tail = "__".join(f.segments + ((extra,) if extra else ()))
        return self.prefixes[f.section] + tail

    @property
    def has_plain_option(self) -> bool:
        """Whether 'allow http' can matter: an endpoint URL field, or LDAP's ldap:// server."""
        return self.protocol == LDAP or any(f.type == URL for f in self.fields)

    @property
    def uses_metadata_file(self) -> bool:
        return self.field("idp_metadata_file") is not None


def _oauth_prefixes(key: str) -> dict[str, str]:
    return {
        SECURE: f"CLEARML__secure__login__sso__oauth_client__{key}__",
        SERVICES: f"CLEARML__services__login__sso__oauth_client__{key}__",
    }


def _saml_prefixes(key: str) -> dict[str, str]:
    return {
        SECURE: f"CLEARML__secure__login__sso__saml_client__{key}__",
        SERVICES: f"CLEARML__services__login__sso__saml_client__{key}__",
    }


# ---- field builders shared by several pages --------------------------------------------------

LIST_NOTE = (
    "The page shows this list unquoted (YAML style); the apiserver parses the value as HOCON, "
    'so the console always writes a JSON list such as ["a", "b"].'
)
SHELL_REF_NOTE = (
    'The page writes "${…}" (a compose/shell substitution); the console writes the value itself, '
    "or reads it from env:NAME when it exports."
)


def _authorize_url(**kw) -> FieldDef:
    return FieldDef(
        "authorize_url",
        SERVICES,
        URL,
        "Authorization endpoint",
        "The provider's OAuth 2.0 authorization endpoint (authorization_endpoint in its OpenID "
        "configuration).",
        required=True,
        **kw,
    )


def _token_url(**kw) -> FieldDef:
    return FieldDef(
        "access_token_url",
        SERVICES,
        URL,
        "Access token endpoint",
        "The provider's OAuth 2.0 token endpoint (token_endpoint in its OpenID configuration).",
        required=True,
        **kw,
    )


def _client_id(env_hint: str = "") -> FieldDef:
    return FieldDef(
        "client_id",
        SECURE,
        STR,
        "Client ID",
        "The ID of the ClearML app registered at the provider"
        + (f", or env:{env_hint} as the docs page reads it." if env_hint else "."),
        required=True,
        env_ok=True,
        docs_note=SHELL_REF_NOTE if env_hint else "",
    )


def _client_secret(env_hint: str = "") -> FieldDef:
    return FieldDef(
        "client_secret",
        SECURE,
        SECRET,
        "Client secret",
        f"Write-only. A literal, or env:{env_hint or 'NAME'} read from the environment when "
        "exporting.",
        required=True,
        docs_note=SHELL_REF_NOTE if env_hint else "",
    )


def _default_company(section: str = SECURE, docs_note: str = "") -> FieldDef:
    return FieldDef(
        "default_company",
        section,
        COMPANY,
        "Default company",
        "New users who are not whitelisted, invited or routed by a domain are created in this "
        "tenant. Empty: only they can sign in.",
        group="Automatic user creation",
        docs_note=docs_note,
    )


def _groups_fields(
    *,
    claim_required_note: str = "",
    case_sensitive: bool = False,
    admins_note: str = "",
    claim_note: str = "",
    claim_help: str = "",
) -> tuple[FieldDef, ...]:
    g = "Group synchronisation"
    fields = [
        FieldDef(
            "groups.enabled",
            SERVICES,
            BOOL,
            "Synchronise groups",
            "On every sign-in, put the user in the existing ClearML groups named like their IdP "
            "groups. ClearML does not create the groups: create them first.",
            group=g,
        ),
        FieldDef(
            "groups.claim",
            SERVICES,
            STR,
            "Groups claim",
            claim_help or "The token claim that lists the user's groups (for example groups).",
            group=g,
            docs_note=claim_note,
            placeholder="groups",
        ),
    ]
    if case_sensitive:
        fields.append(
            FieldDef(
                "groups.case_sensitive",
                SERVICES,
                BOOL,
                "Case-sensitive group names",
                "Group names are compared case-sensitively by default; false compares them "
                "ignoring case.",
                group=g,
            )
        )
    fields += [
        FieldDef(
            "groups.admins",
            SERVICES,
            LIST,
            "Admin groups",
            "Members of these IdP groups become ClearML admins. These groups need not exist in "
            "ClearML. One per line.",
            group=g,
            docs_note=admins_note or LIST_NOTE,
        ),
        FieldDef(
            "groups.prohibit_user_signup_if_not_in_group",
            SERVICES,
            BOOL,
            "Refuse users without a matching group",
            "Refuse sign-in to users none of whose IdP groups exists in ClearML.",
            group=g,
        ),
    ]
    return tuple(fields)


def _saml_basic(key: str, *, entity_default: str = "") -> tuple[FieldDef, ...]:
    return (
        FieldDef(
            "entity_id",
            SECURE,
            STR,
            "Entity ID",
            "The entity ID of the ClearML app at the provider"
            + (f" (the page uses {entity_default})." if entity_default else "."),
            required=True,
            placeholder=entity_default,
        ),
        FieldDef(
            "idp_metadata_file",
            SECURE,
            PATH,
            "IdP metadata file",
            "Path of the IdP metadata XML inside the apiserver container. With Helm, paste the "
            "file below: the console adds it to apiserver.additionalConfigs, which the chart "
            f"mounts under {ADDITIONAL_CONFIGS_DIR}/.",
            required=True,
            placeholder=f"{ADDITIONAL_CONFIGS_DIR}/{key}_metadata.xml",
        ),
        _default_company(),
    )


# ---- the providers ----------------------------------------------------------------------------

KEYCLOAK = ProviderDef(
    key="keycloak",
    label="Keycloak",
    protocol=OAUTH,
    docs="sso_keycloak_oauth.md (and the KeyCloak IdP Configuration guide)",
    prefixes=_oauth_prefixes("keycloak"),
    callback="/callback_keycloak",
    fields=(
        FieldDef(
            "base_url",
            SERVICES,
            URL,
            "Base URL",
            "The realm URL: the start of the token or authorization endpoint, usually the part "
            "before protocol/openid-connect/….",
            required=True,
            placeholder="https://sso.example.com/realms/acme",
        ),
        _authorize_url(
            placeholder="https://sso.example.com/realms/acme/protocol/openid-connect/auth"
        ),
        _token_url(placeholder="https://sso.example.com/realms/acme/protocol/openid-connect/token"),
        _client_id("KEYCLOAK_AUTH_CLIENT_ID"),
        _client_secret("KEYCLOAK_AUTH_CLIENT_SECRET"),
        _default_company(),
        *_groups_fields(),
        FieldDef(
            "claims.name",
            SERVICES,
            STR,
            "User name claim",
            "The claim that holds the user's name. ClearML reads name by default; many Keycloak "
            "realms return preferred_username.",
            group="Claims",
            placeholder="preferred_username",
        ),
        FieldDef(
            "admin_role",
            SERVICES,
            STR,
            "Admin role claim",
            "The role that makes a user a ClearML admin (the server uses admin when unset). Tick "
            "'disabled' to write an empty value, so admins are managed only inside ClearML.",
            allow_empty=True,
            group="Administrators",
        ),
        FieldDef(
            "idp_logout",
            SERVICES,
            BOOL,
            "Log out of Keycloak too",
            "Signing out of ClearML also ends the Keycloak session, so the next sign-in shows the "
            "Keycloak login page again.",
            group="Sessions and user info",
        ),
        FieldDef(
            "get_info_from_access_token",
            SERVICES,
            BOOL,
            "User info from the access token",
            "true (the server's default): read the user's details from the access token. false: "
            "ask the OAuth userinfo endpoint instead.",
            group="Sessions and user info",
        ),
    ),
    steps=(
        "In Keycloak, create an OpenID Connect client for ClearML and add the callback URL shown "
        "above as a valid redirect URI.",
        "Make sure the tokens carry the user's id, email and user name claims.",
        "Copy the client id, the client secret, and the authorization and token endpoints into "
        "this form (or use Fill from discovery with the realm URL).",
        "Groups: in the client's Client scopes tab open the <client>-dedicated scope, choose Add "
        "mapper, By configuration, Group membership; name it groups, set the token claim name to "
        "groups, untick Full group path, and save.",
        "Check it: in Client details, Client scopes, Evaluate, pick a user who belongs to a group "
        "and confirm the groups claim appears in both the generated ID token and the generated "
        "user info.",
        "Admin role (optional): give administrators the admin role and make sure the roles claim "
        "is returned in the access token or by userinfo.",
        "Create in ClearML a group for every Keycloak group you want synchronised; ClearML does "
        "not create them.",
    ),
    notes=(
        "The Keycloak page and the KeyCloak IdP Configuration guide disagree on nothing but "
        "spelling; the console follows the guide: client id, client secret and default "
        "company under secure, the rest under services.",
    ),
)

AUTH0 = ProviderDef(
    key="auth0",
    label="Auth0",
    protocol=OAUTH,
    docs="no page among the references: ClearML's Kubernetes 'SSO (Identity Provider) Setup' page",
    prefixes=_oauth_prefixes("auth0"),
    callback="/callback_auth0",
    documented=False,
    fields=(
        FieldDef(
            "base_url",
            SERVICES,
            URL,
            "Base URL",
            "Your Auth0 domain, for example https://acme.eu.auth0.com/.",
            required=True,
            placeholder="https://acme.eu.auth0.com/",
        ),
        _authorize_url(placeholder="https://acme.eu.auth0.com/authorize"),
        _token_url(placeholder="https://acme.eu.auth0.com/oauth/token"),
        FieldDef(
            "audience",
            SERVICES,
            STR,
            "Audience",
            "The API identifier Auth0 issues the access token for.",
        ),
        _client_id(),
        _client_secret(),
    ),
    steps=(
        "In Auth0, create a Regular Web Application for ClearML and add the callback URL shown "
        "above to its Allowed Callback URLs.",
        "Copy the domain, client id and client secret; use Fill from discovery with the domain to "
        "get the endpoints.",
    ),
    notes=(
        "Auth0 has no page among the console's reference pages. The variables are the ones "
        "ClearML's Kubernetes SSO setup page lists for Auth0; the callback path follows the "
        "callback_<provider> pattern of every other page (an assumption).",
    ),
)

OKTA = ProviderDef(
    key="okta",
    label="Okta",
    protocol=OAUTH,
    docs="sso_okta_oauth.md",
    prefixes=_oauth_prefixes("okta"),
    callback="/callback_okta",
    fields=(
        FieldDef(
            "base_url",
            SERVICES,
            URL,
            "Base URL",
            "https://<your Okta domain>/oauth2/<authorization server id>/",
            required=True,
            placeholder="https://acme.okta.com/oauth2/default/",
        ),
        _authorize_url(),
        _token_url(),
        _client_id("OKTA_AUTH_CLIENT_ID"),
        _client_secret("OKTA_AUTH_CLIENT_SECRET"),
    ),
    steps=(
        "In Okta, register the ClearML app with the callback URL shown above.",
        "Make sure the sub, email, name and email_verified claims are returned.",
        "Allow the relevant users to use the ClearML app.",
        "Use Fill from discovery with the base URL to get the authorization and token endpoints.",
    ),
    notes=(
        "The Okta page names no default_company variable, so the console offers none for Okta.",
    ),
)

AZURE_AD = ProviderDef(
    key="azure_ad",
    label="Azure AD",
    protocol=OAUTH,
    docs="sso_azure_ad_oauth.md",
    prefixes=_oauth_prefixes("azure_ad"),
    callback="/callback_azure_ad",
    fields=(
        _authorize_url(
            placeholder="https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize"
        ),
        _token_url(placeholder="https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token"),
        _client_id("AD_AUTH_CLIENT_ID"),
        _client_secret("AD_AUTH_CLIENT_SECRET"),
        _default_company(
            docs_note=(
                "The Azure AD page writes this variable under the ad_oauth key "
                "(…oauth_client__ad_oauth__default_company), which is the Microsoft AD OAuth "
                "provider's key: it would set the other provider's default company and leave "
                "Azure AD's unset. The console writes …oauth_client__azure_ad__default_company. "
                "The page's ${DEFAULT_COMPANY:?err} is shell syntax; the console writes the id."
            )
        ),
    ),
    steps=(
        "In Azure, register the ClearML app with the redirect URI shown above.",
        "Have access tokens returned by the authorization endpoint, carrying the email, "
        "preferred_username and upn claims.",
        "Add a client secret and copy the client id, the secret and the v2 authorization and "
        "token endpoints (Fill from discovery with https://login.microsoftonline.com/<tenant>/v2.0).",
    ),
)

AD_OAUTH = ProviderDef(
    key="ad_oauth",
    label="Microsoft AD (OAuth)",
    protocol=OAUTH,
    docs="sso_microsoft_ad_oauth.md",
    prefixes=_oauth_prefixes("ad_oauth"),
    callback="/callback_ad_oauth",
    fields=(
        _authorize_url(),
        _token_url(),
        _client_id("AD_AUTH_CLIENT_ID"),
        _client_secret("AD_AUTH_CLIENT_SECRET"),
        _default_company(),
    ),
    steps=(
        "In AD, register the ClearML app with the callback URL shown above.",
        "Return the claims ClearML maps: preferred_username (user id), upn (email) and fullname "
        "(name).",
        "Copy the client id, client secret, auth URL and access token URL.",
    ),
)

GOOGLE = ProviderDef(
    key="google",
    label="Google (OAuth)",
    protocol=OAUTH,
    docs="sso_google_oauth.md",
    prefixes=_oauth_prefixes("google"),
    callback="/callback_google",
    fields=(
        _client_id("GOOGLE_AUTH_CLIENT_ID"),
        _client_secret("GOOGLE_AUTH_CLIENT_SECRET"),
        _default_company(),
    ),
    steps=(
        "In the Google Cloud console, APIs & Services, Credentials: create an OAuth client ID of "
        "type Web application.",
        "Add the callback URL shown above as an authorised redirect URI.",
        "Copy the client id and client secret.",
    ),
    notes=("Google's endpoints are built into the server: the page names none, so none is asked.",),
)

COGNITO = ProviderDef(
    key="cognito",
    label="Amazon Cognito",
    protocol=OAUTH,
    docs="sso_amazon_cognito_oauth.md",
    prefixes=_oauth_prefixes("cognito"),
    callback="/callback_cognito",
    fields=(
        _authorize_url(placeholder="https://<pool domain>/oauth2/authorize"),
        _token_url(placeholder="https://<pool domain>/oauth2/token"),
        _client_id("COGNITO_AUTH_CLIENT_ID"),
        _client_secret("COGNITO_AUTH_CLIENT_SECRET"),
        FieldDef(
            "identity_provider",
            SERVICES,
            STR,
            "External identity provider",
            "Only when the user pool relies on an external IdP: its name as defined in the pool.",
        ),
        _default_company(),
        FieldDef(
            "display_name",
            SERVICES,
            STR,
            "Display name",
            "The text of this provider's button on the ClearML login page.",
        ),
    ),
    steps=(
        "Pick a user pool whose required attributes include email and preferred_username.",
        "In the pool's App integration, create a confidential app client with a generated secret, "
        "the callback URL shown above, the authorization code grant, and the openid, profile and "
        "email scopes.",
        "Copy the client id and secret; the endpoints are <pool domain>/oauth2/authorize and "
        "<pool domain>/oauth2/token.",
    ),
)

PING = ProviderDef(
    key="ping",
    label="Ping Identity",
    protocol=OAUTH,
    docs="sso_ping_id_oauth.md",
    prefixes=_oauth_prefixes("ping"),
    callback="/callback_ping",
    fields=(
        _authorize_url(),
        _token_url(),
        _client_id("PING_AUTH_CLIENT_ID"),
        _client_secret("PING_AUTH_CLIENT_SECRET"),
        FieldDef(
            "code_challenge",
            SERVICES,
            BOOL,
            "PKCE",
            "Set true when PKCE is enabled for the ClearML app in Ping.",
            group="PKCE",
        ),
        FieldDef(
            "code_challenge_method",
            SERVICES,
            CHOICE,
            "PKCE method",
            "The page uses S256.",
            choices=("S256", "plain"),
            group="PKCE",
        ),
        _default_company(),
        FieldDef(
            "debug",
            SERVICES,
            BOOL,
            "SSO debug logging",
            "Write SSO debug information to the apiserver log while troubleshooting.",
            group="Troubleshooting",
            docs_note="The page's example ends with a stray backtick (debug=true`); the console "
            "writes true.",
        ),
        *_groups_fields(
            case_sensitive=True,
            claim_help="The name of the groups claim as Ping returns it.",
        ),
    ),
    steps=(
        "In Ping, register the ClearML app with the callback URL shown above.",
        "Select the openid, profile and email scopes.",
        "Return the user id, email and username claims, and group memberships for group sync.",
        "Copy the client id, client secret, auth URL and access token URL.",
    ),
)

MICROSOFT_AD_SAML = ProviderDef(
    key="microsoft_ad",
    label="Microsoft AD / Azure (SAML)",
    protocol=SAML,
    docs="sso_microsoft_ad_saml.md",
    prefixes=_saml_prefixes("microsoft_ad"),
    callback="/callback_microsoft_ad",
    fields=(
        *_saml_basic("microsoft_ad"),
        FieldDef(
            "claims.object_id",
            SERVICES,
            STR,
            "User id claim",
            "",
            group="Claims mapping",
            placeholder="http://schemas.microsoft.com/identity/claims/objectidentifier",
        ),
        FieldDef(
            "claims.name",
            SERVICES,
            STR,
            "Name claim",
            "",
            group="Claims mapping",
            placeholder="http://schemas.microsoft.com/identity/claims/displayname",
        ),
        FieldDef(
            "claims.email",
            SERVICES,
            STR,
            "Email claim",
            "",
            group="Claims mapping",
            placeholder="emailAddress",
        ),
        FieldDef(
            "claims.given_name",
            SERVICES,
            STR,
            "Given name claim",
            "",
            group="Claims mapping",
            placeholder="givenName",
        ),
        FieldDef(
            "claims.surname",
            SERVICES,
            STR,
            "Surname claim",
            "",
            group="Claims mapping",
            placeholder="surname",
        ),
        *_groups_fields(
            case_sensitive=True,
            claim_help="The groups claim; the server uses groups when unset. The group name is "
            "the first CN of each DN (CN=test,OU=unit,… is test).",
            claim_note='The page calls this variable …groups__claimenv ("claimenv var"): the '
            "words 'env var' ran into the name. The variable is …groups__claim.",
        ),
    ),
    steps=(
        "In AD, register the ClearML app with the reply (ACS) URL shown above and set SSO binding "
        "to HTTP-Redirect.",
        "Return the claims emailaddress (user.mail), displayname (user.displayname) and the "
        "unique user identifier (user.principalname).",
        "Download the IdP metadata file and note the entity ID.",
    ),
)

GOOGLE_SAML = ProviderDef(
    key="google_saml",
    label="Google (SAML)",
    protocol=SAML,
    docs="sso_google_saml.md",
    prefixes=_saml_prefixes("google_saml"),
    callback="/callback_google_saml",
    fields=_saml_basic("google_saml"),
    steps=(
        "In Google, register the ClearML app with the ACS URL shown above and set SSO binding to "
        "HTTP-Redirect.",
        "Return the claims objectidentifier (user id), displayname and emailaddress.",
        "Download the IdP metadata file and note the entity ID.",
    ),
)

DUO = ProviderDef(
    key="duo",
    label="Duo (SAML)",
    protocol=SAML,
    docs="sso_duo_saml.md",
    prefixes=_saml_prefixes("duo"),
    callback="/callback_duo",
    fields=_saml_basic("duo", entity_default="clearml"),
    steps=(
        "In the Duo Admin console add a Generic SAML Service Provider with entity ID clearml and "
        "the ACS URL shown above.",
        "Return the attributes emailaddress, objectidentifier and displayname.",
        "Download the IdP metadata file.",
    ),
)

JUMPCLOUD = ProviderDef(
    key="jumpcloudsaml",
    label="JumpCloud (SAML)",
    protocol=SAML,
    docs="sso_jumpcloud_saml.md",
    prefixes=_saml_prefixes("jumpcloudsaml"),
    callback="/callback_jumpcloudsaml",
    fields=_saml_basic("jumpcloudsaml", entity_default="clearml"),
    steps=(
        "In the JumpCloud Admin console add a Generic SAML Service Provider with entity ID "
        "clearml and the callback URL shown above.",
        "Return the attributes emailaddress, objectidentifier and displayname.",
        "Download the IdP metadata file.",
    ),
    notes=(
        "The JumpCloud page writes its variables in upper case (CLEARML__SECURE__LOGIN__…). The "
        "apiserver lower-cases every variable name, so both spellings are the same setting; the "
        "console writes the same lower-case form as every other provider.",
    ),
)

LDAP_PROVIDER = ProviderDef(
    key="ldap",
    label="LDAP",
    protocol=LDAP,
    docs="sso_ldap.md",
    prefixes={
        APISERVER: "CLEARML__apiserver__auth__fixed_user_providers__ldap__",
        SECURE: "CLEARML__secure__fixed_user_providers__ldap__",
    },
    fixed=(
        ("CLEARML__apiserver__auth__fixed_users__enabled", True),
        ("CLEARML__apiserver__auth__fixed_users__provider", "ldap"),
    ),
    fields=(
        FieldDef(
            "server",
            APISERVER,
            STR,
            "Server",
            "The LDAP server: a host name (ipa.demo1.freeipa.org) or an ldaps:// or ldap:// URL. "
            "ldap:// needs TLS (use_tls) unless 'allow plain connections' is ticked.",
            required=True,
        ),
        FieldDef(
            "base_dn",
            APISERVER,
            STR,
            "Base DN",
            "Where users are searched, e.g. dc=demo1,dc=freeipa,dc=org.",
            required=True,
        ),
        FieldDef(
            "dn",
            SECURE,
            STR,
            "Admin DN",
            "The DN ClearML binds with to look users up.",
            required=True,
            group="Admin credentials",
            env_ok=True,
        ),
        FieldDef(
            "password",
            SECURE,
            SECRET,
            "Admin password",
            "Write-only. A literal, or env:NAME read at export time.",
            required=True,
            group="Admin credentials",
        ),
        FieldDef(
            "search_filter",
            APISERVER,
            STR,
            "Search filter",
            "For Microsoft Active Directory: (&(objectclass=user)(sAMAccountName={0})).",
            placeholder="(&(objectclass=user)(sAMAccountName={0}))",
            docs_note="The page writes this one as 'NAME: \"value\"' (YAML style) rather than "
            "NAME=value. The value holds ( & { } characters, so the console always writes it as "
            "a quoted HOCON string.",
        ),
        _default_company(
            section=APISERVER,
            docs_note="",
        ),
        FieldDef(
            "use_tls",
            APISERVER,
            BOOL,
            "StartTLS",
            "Use TLS over an ldap:// connection (ldaps:// is already secure).",
            group="TLS",
        ),
        FieldDef(
            "tls.ca_certs",
            APISERVER,
            PATH,
            "CA certificates file",
            "For a private CA or self-signed server certificate.",
            group="TLS",
        ),
        FieldDef(
            "tls.validate_cert",
            APISERVER,
            BOOL,
            "Validate the server certificate",
            "true by default; false skips validation (not recommended).",
            group="TLS",
        ),
        FieldDef("tls.client_cert", APISERVER, PATH, "Client certificate file", "", group="TLS"),
        FieldDef("tls.client_key", APISERVER, PATH, "Client private key file", "", group="TLS"),
        FieldDef(
            "attributes",
            APISERVER,
            MAP,
            "User attributes",
            "ClearML name = LDAP attribute, one per line: name (default displayName), mail "
            "(default email), or any custom name.",
            group="Attributes and admins",
            placeholder="name = cn\nmail = userPrincipalName",
        ),
        FieldDef(
            "admin_users",
            APISERVER,
            LIST,
            "Admin users",
            "LDAP user ids that become ClearML admins. One per line.",
            group="Attributes and admins",
            docs_note=LIST_NOTE.replace(
                "shows this list unquoted (YAML style)", "shows this list as a bare value"
            ),
        ),
    ),
    steps=(
        "Create (or pick) an LDAP account ClearML can bind with to search users.",
        "Whitelisting: leave Default company empty to let only whitelisted users and domains in "
        "(add them on the Sign-in routing page first, including an admin).",
    ),
    notes=(
        "Choosing LDAP also sets CLEARML__apiserver__auth__fixed_users__enabled=true and "
        "CLEARML__apiserver__auth__fixed_users__provider=ldap, as the page requires.",
        "The page puts default_company under apiserver.auth.fixed_user_providers.ldap (not under "
        "secure like the OAuth and SAML pages); the console follows the page.",
    ),
)

PROVIDERS: dict[str, ProviderDef] = {
    p.key: p
    for p in (
        KEYCLOAK,
        AUTH0,
        OKTA,
        AZURE_AD,
        AD_OAUTH,
        GOOGLE,
        COGNITO,
        PING,
        MICROSOFT_AD_SAML,
        GOOGLE_SAML,
        DUO,
        JUMPCLOUD,
        LDAP_PROVIDER,
    )
}


def get_provider(key: str) -> ProviderDef | None:
    return PROVIDERS.get(key)


def providers_by_protocol() -> list[tuple[str, list[ProviderDef]]]:
    out: dict[str, list[ProviderDef]] = {}
    for p in PROVIDERS.values():
        out.setdefault(p.protocol, []).append(p)
    return [(PROTOCOL_LABELS[k], v) for k, v in out.items()]


def field_paths(provider: ProviderDef) -> dict[str, FieldDef]:
    """Every nested mapping path the SPEC may use for this provider: `groups` -> container."""
    return {f.key: f for f in provider.fields}


def _check_catalog() -> None:
    """Definitions are data: catch a typo in them at import time, not in an admin's snippet."""
    for p in PROVIDERS.values():
        seen: set[str] = set()
        for f in p.fields:
            assert f.type in TYPES, (p.key, f.key)
            assert f.section in p.prefixes, (p.key, f.key)
            assert f.key not in seen, (p.key, f.key)
            assert f.key != "provider" and f.key != "allow_http", (p.key, f.key)
            assert f.type != CHOICE or f.choices, (p.key, f.key)
            seen.add(f.key)
        # A key may not be both a value and a container (`groups` and `groups.enabled`).
        for key in seen:
            assert not any(other.startswith(key + ".") for other in seen), (p.key, key)


_check_catalog()


def variables_of(provider: ProviderDef) -> list[str]:
    names = [name for name, _ in provider.fixed]
    for f in provider.fields:
        names.append(provider.variable(f, "<name>" if f.type == MAP else ""))
    return names
