"""Settings for the ClearML Tenant Console, read from the environment (and a `.env` file)."""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=false.")
    SECRET_KEY = "django-insecure-dev-only-" + "x" * 40

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The apiserver this console manages (docs/configuration.md).
CLEARML_API_URL = env.str("CLEARML_API_URL", default="").rstrip("/")
CLEARML_API_KEY = env.str("CLEARML_API_KEY", default="")
CLEARML_API_SECRET = env.str("CLEARML_API_SECRET", default="")
CLEARML_WEBAPP_URL = env.str("CLEARML_WEBAPP_URL", default="").rstrip("/")
# ClearML's metering service (get_usages) for usage and cost reports (docs/usage.md).
CLEARML_METERING_URL = env.str("CLEARML_METERING_URL", default="").rstrip("/")
CLEARML_METERING_KEY = env.str("CLEARML_METERING_KEY", default="")
CLEARML_METERING_SECRET = env.str("CLEARML_METERING_SECRET", default="")
# The fileserver's external URL (the onboarding kit's fileServerUrlReference, clearml.conf);
# unset: derived from CLEARML_API_URL (api.<domain> -> files.<domain>, port 8008 -> 8081).
CLEARML_FILES_URL = env.str("CLEARML_FILES_URL", default="").rstrip("/")
# The server's `clearmlApplications.queueMode`: "global" (the docs' default) or "per_tenant"
# (each tenant's agent serves its applications: agentk8sglue.appsQueue.enabled in the kit).
CLEARML_APPS_QUEUE_MODE = env.str("CLEARML_APPS_QUEUE_MODE", default="global").strip().lower()
if CLEARML_APPS_QUEUE_MODE not in ("global", "per_tenant"):
    raise ImproperlyConfigured("CLEARML_APPS_QUEUE_MODE must be global or per_tenant.")
# The onboarding kit's cluster side (docs/onboarding.md): where the ClearML servers are for the
# NetworkPolicy's egress (CIDRs, or the namespace they run in), the ingress controller's
# namespace (let in to reach the App Gateway) and the domain of the App Gateway's host names.
ONBOARDING_SERVER_CIDRS = env.list("ONBOARDING_SERVER_CIDRS", default=[])
ONBOARDING_SERVER_NAMESPACE = env.str("ONBOARDING_SERVER_NAMESPACE", default="").strip()
ONBOARDING_INGRESS_NAMESPACE = env.str("ONBOARDING_INGRESS_NAMESPACE", default="").strip()
ONBOARDING_APP_GATEWAY_DOMAIN = env.str("ONBOARDING_APP_GATEWAY_DOMAIN", default="").strip(".")
# How often the worker refreshes the server-state snapshot; `plan` trusts a snapshot this fresh.
CONSOLE_REFRESH_MINUTES = env.float("CONSOLE_REFRESH_MINUTES", default=10)
if CONSOLE_REFRESH_MINUTES <= 0:
    raise ImproperlyConfigured(
        f"CONSOLE_REFRESH_MINUTES: {CONSOLE_REFRESH_MINUTES} is not a number of minutes above 0; "
        "set it to how often the worker reads the server (default 10)."
    )
CLEARML_API_TIMEOUT = env.float("CLEARML_API_TIMEOUT", default=10.0)
# Four-eyes approvals: risky and bulk changesets wait for a second admin (docs/architecture.md).
CONSOLE_APPROVALS = env.bool("CONSOLE_APPROVALS", default=False)
# Audit retention (docs/audit.md, "Retention and archives"): entries older than this many
# days are moved to signed archive segments in AUDIT_ARCHIVE_DIR; unset keeps everything.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=None)
if AUDIT_RETENTION_DAYS is not None and AUDIT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(
        f"AUDIT_RETENTION_DAYS: {AUDIT_RETENTION_DAYS} is not a number of days: give 1 or more, "
        "or leave it unset to keep every audit entry."
    )
AUDIT_ARCHIVE_DIR = env.str("AUDIT_ARCHIVE_DIR", default=str(VAR_DIR / "audit-archive"))
# The key that signs archive manifests; unset: derived from SECRET_KEY (set it to keep old
# archives verifiable across a SECRET_KEY rotation).
AUDIT_ARCHIVE_KEY = env.str("AUDIT_ARCHIVE_KEY", default="")

# Sign-in throttling: failures per user name and per client address within the window.
SIGNIN_MAX_FAILURES = env.int("SIGNIN_MAX_FAILURES", default=5)
SIGNIN_LOCKOUT_SECONDS = env.int("SIGNIN_LOCKOUT_SECONDS", default=300)
# Failures from one client address, across every user name, before that address is refused
# (it is slowed down well before). Default: four times SIGNIN_MAX_FAILURES.
SIGNIN_MAX_ADDRESS_FAILURES = env.int(
    "SIGNIN_MAX_ADDRESS_FAILURES", default=4 * SIGNIN_MAX_FAILURES
)
# How many reverse proxies in front of the console append to X-Forwarded-For.
CONSOLE_TRUSTED_PROXIES = env.int("CONSOLE_TRUSTED_PROXIES", default=0)

# Console sign-in through OpenID Connect (docs/sign-in.md). Unset issuer: local sign-in only.
CONSOLE_OIDC_ISSUER = env.str("CONSOLE_OIDC_ISSUER", default="").strip().rstrip("/")
CONSOLE_OIDC_CLIENT_ID = env.str("CONSOLE_OIDC_CLIENT_ID", default="").strip()
CONSOLE_OIDC_CLIENT_SECRET = env.str("CONSOLE_OIDC_CLIENT_SECRET", default="")
CONSOLE_OIDC_GROUPS_CLAIM = env.str("CONSOLE_OIDC_GROUPS_CLAIM", default="groups").strip()
# The name on the sign-in button ("Sign in with Okta"); unset: the issuer's host name.
CONSOLE_OIDC_NAME = env.str("CONSOLE_OIDC_NAME", default="").strip()
# Seconds to wait for the identity provider (discovery, keys, token) before giving up.
CONSOLE_OIDC_TIMEOUT = env.float("CONSOLE_OIDC_TIMEOUT", default=5.0)
# IdP group names per role; a person in none of them is refused, the highest match wins.
CONSOLE_ROLE_ADMINS = env.list("CONSOLE_ROLE_ADMINS", default=[])
CONSOLE_ROLE_OPERATORS = env.list("CONSOLE_ROLE_OPERATORS", default=[])
CONSOLE_ROLE_VIEWERS = env.list("CONSOLE_ROLE_VIEWERS", default=[])
# The local `admin` account, kept as break-glass; false disables it (OIDC must then be set).
CONSOLE_LOCAL_ADMIN = env.bool("CONSOLE_LOCAL_ADMIN", default=True)
# The longest session, from sign-in; and how old a sign-in may be before a secret is shown,
# exported or a change approved (older: sign in again).
CONSOLE_SESSION_HOURS = env.float("CONSOLE_SESSION_HOURS", default=12)
CONSOLE_REAUTH_MINUTES = env.float("CONSOLE_REAUTH_MINUTES", default=15)
if CONSOLE_OIDC_ISSUER and not CONSOLE_OIDC_CLIENT_ID:
    raise ImproperlyConfigured("CONSOLE_OIDC_ISSUER is set: set CONSOLE_OIDC_CLIENT_ID too.")
if CONSOLE_OIDC_ISSUER and not (
    CONSOLE_OIDC_ISSUER.startswith("https://")
    or re.match(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/|$)", CONSOLE_OIDC_ISSUER)
):
    raise ImproperlyConfigured("CONSOLE_OIDC_ISSUER must be an https:// URL.")
if not CONSOLE_LOCAL_ADMIN and not CONSOLE_OIDC_ISSUER:
    raise ImproperlyConfigured(
        "CONSOLE_LOCAL_ADMIN=false needs CONSOLE_OIDC_ISSUER: nobody could sign in otherwise."
    )
if CONSOLE_SESSION_HOURS <= 0 or CONSOLE_REAUTH_MINUTES <= 0:
    raise ImproperlyConfigured("CONSOLE_SESSION_HOURS and CONSOLE_REAUTH_MINUTES must be > 0.")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "console",
    "console.metering",
    "tenants",
    "sso",
    "changes",
    "django_tasks",
    "django_tasks.backends.database",
]

# Background work (docs/worker.md): django-tasks' database backend keeps the queue in a table of
# this database; `manage.py worker` runs it: bulk applies, the scheduled refresh and drift.
TASKS = {"default": {"BACKEND": "django_tasks.backends.database.DatabaseBackend"}}

MIDDLEWARE = [
    "console.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "console.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.middleware.DebugErrorPagesMiddleware",
    "console.middleware.RequestSizeLimitMiddleware",
    "console.middleware.NulCharacterMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.RequestIdMiddleware",
    "console.middleware.LoginRequiredMiddleware",
    "console.middleware.SessionActivityMiddleware",
    "console.middleware.RolePolicyMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.navigation",
            ],
            # Django's {% url %} and |date, faster (see the module).
            "builtins": ["console.templatetags.fast_builtins"],
        },
    },
    {
        # The row lists of the busiest pages (console/jinja2.py says why).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "console.jinja2.environment",
            "context_processors": ["console.jinja2.render_scope"],
        },
    },
]

VAR_DIR.mkdir(exist_ok=True)
(VAR_DIR / "staticfiles").mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'console.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    # Serialise writers up front so the audit chain cannot fork.
    _sqlite_options.update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    # Write-ahead log: a commit appends to the log (one sync) instead of rewriting a rollback
    # journal, and readers (page views) do not wait for a writer. `synchronous` stays FULL, so a
    # committed step survives a power cut. The mode is kept in the database file; an in-memory
    # database (the tests') stays in memory mode. An `init_command` in DATABASE_URL wins.
    _sqlite_options.setdefault("init_command", "PRAGMA journal_mode=WAL;")
else:
    # Keep a server database's connections between requests: opening one costs 4-6 ms on
    # PostgreSQL, more than most pages take. Checked before reuse, so a restarted database
    # costs one failed check, not an error. `?conn_max_age=N` in DATABASE_URL wins.
    if "conn_max_age=" not in env.str("DATABASE_URL", default=""):
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The console's queries are short. PostgreSQL's JIT compiles any query whose estimated
        # cost passes jit_above_cost (the Tenants page's at 10,000 tenants) and spent 260 ms
        # doing so, four times the query's own time. `?options=...` in DATABASE_URL wins.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "console_cache",
    }
}

AUTHENTICATION_BACKENDS = [
    "console.signin.AdminPasswordBackend",
    "console.oidc.backend.ConsoleOIDCBackend",
]
LOGIN_URL = "signin"
LOGIN_URL_PATH = "/signin/"
LOGIN_REDIRECT_URL = "dashboard"
# A session ends CONSOLE_SESSION_HOURS after sign-in however busy it is (set at sign-in,
# console/accounts/sessions.py); before sign-in (the OIDC state) the cookie lasts until the
# browser closes.
SESSION_COOKIE_AGE = int(CONSOLE_SESSION_HOURS * 3600)
# Django's database sessions, read with one SQL statement (console/request_reads.py).
SESSION_ENGINE = "console.request_reads"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# mozilla-django-oidc (console/oidc/): authorization code flow with PKCE (S256) and a nonce; the
# endpoints come from the issuer's discovery document (console/oidc/discovery.py), and the ID
# token is checked by console/oidc/backend.py (signature from the JWKS, iss, aud, exp, nonce).
OIDC_RP_CLIENT_ID = CONSOLE_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = CONSOLE_OIDC_CLIENT_SECRET
OIDC_RP_SCOPES = "openid email profile"
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_TIMEOUT = CONSOLE_OIDC_TIMEOUT
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_callback"
OIDC_REDIRECT_FIELD_NAME = "next"
OIDC_STORE_ACCESS_TOKEN = False
OIDC_STORE_ID_TOKEN = False
# Seconds of clock difference allowed when checking exp/iat/nbf of an ID token.
OIDC_LEEWAY = 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20000

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONSOLE_HTTPS = env.bool("CONSOLE_HTTPS", default=True)
if not DEBUG and CONSOLE_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a near-irreversible promise for the whole domain: opt in, do not nag.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
elif not DEBUG:
    # Plain HTTP on a trusted network is a deliberate choice; do not nag about it.
    SILENCED_SYSTEM_CHECKS = [
        "security.W004",
        "security.W008",
        "security.W012",
        "security.W016",
    ]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
CSRF_FAILURE_VIEW = "console.views.csrf_failure"
