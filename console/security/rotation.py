"""What rotating each server secret breaks, and the order to roll them (Security page and docs)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RotationRow:
    settings: tuple[str, ...]
    used_for: str
    breaks: str
    update_too: str


ROTATION: tuple[RotationRow, ...] = (
    RotationRow(
        ("secure.credentials.tests.user_key", "secure.credentials.tests.user_secret"),
        'The server\'s built-in "Default User" (tests); its default pair is public.',
        "Nothing in production should use it. Any SDK user or script that copied the default "
        "pair into clearml.conf is refused (which is the point).",
        "Helm: clearml.testUserKey/testUserSecret (or test_user_key/test_user_secret in "
        "clearml.existingSecret) with the same values.",
    ),
    RotationRow(
        ("secure.credentials.webserver.user_key", "secure.credentials.webserver.user_secret"),
        "The web app's free-access login (no user name or password).",
        "The free-access login stops working (ClearML docs, “Securing ClearML Server”). "
        "With web login (fixed users or SSO) "
        "configured the server revokes these credentials anyway.",
        "Configure web login FIRST, or nobody can sign in to the web app.",
    ),
    RotationRow(
        ("secure.credentials.fileserver.user_key", "secure.credentials.fileserver.user_secret"),
        "The file server's system account: it asks the apiserver to validate the tokens of "
        "uploads and downloads (file server token authentication).",
        "Until the apiserver and the file server both run with the new pair, uploads and "
        "downloads of artifacts, models and debug samples fail.",
        "Set the same pair on the apiserver and the fileserver (compose: both services; Helm: "
        "apiserver.extraEnvs and clearml.fileserverKey/fileserverSecret) and restart both.",
    ),
    RotationRow(
        ("secure.credentials.apiserver.user_key", "secure.credentials.apiserver.user_secret"),
        "The apiserver's system account for internal services; the multi-tenant docs use it as "
        "APISERVER_KEY/SECRET to create tenants.",
        "Everything that signs in with this pair: the console itself (CLEARML_API_KEY/"
        "CLEARML_API_SECRET), the chart's other components, services agents and scripts set up "
        "with it. Agents and SDK users with their own credentials are not affected.",
        "Helm: clearml.apiserverKey/apiserverSecret (or apiserver_key/apiserver_secret in "
        "clearml.existingSecret); the console's CLEARML_API_KEY/SECRET if it uses this pair.",
    ),
    RotationRow(
        ("secure.auth.token_secret",),
        "Signs the tokens the apiserver issues (auth.login, web sessions, file server access).",
        "Every issued token becomes invalid at once: web users are signed out; SDK clients and "
        "agents sign in again with their key and secret on their next call (running tasks may "
        "log one failed call).",
        "Helm: clearml.secureAuthTokenSecret (or secure_auth_token_secret in "
        "clearml.existingSecret).",
    ),
    RotationRow(
        ("secure.http.session_secret.apiserver",),
        "Signs the apiserver's web session data.",
        "All web sessions end: every web app user signs in again. Agents and SDK are not affected.",
        "Helm: the chart does not set it; it must be in apiserver.extraEnvs.",
    ),
    RotationRow(
        ("secure.credentials.supervisor.user_key", "secure.credentials.supervisor.user_secret"),
        "The multi-tenant supervisor user (web login with these as user name and password).",
        "The supervisor's web sign-in and any script using the pair.",
        "Tell the people who sign in as the supervisor.",
    ),
    RotationRow(
        (
            "secure.credentials.platform_management.user_key",
            "secure.credentials.platform_management.user_secret",
        ),
        "The Platform Management Center's access to the server (ClearML Enterprise).",
        "The Platform Management Center cannot reach the server until it has the new pair.",
        "Update the Platform Management Center's server credentials in the same change.",
    ),
)

ROLL_ORDER: tuple[str, ...] = (
    "Configure web login (fixed users or an identity provider) and check you can sign in with "
    "it. Changing the webserver credentials without it locks everyone out of the web app.",
    "Rotate the tests and webserver credentials: nothing in production should depend on them.",
    "Rotate the fileserver credentials on the apiserver and the file server together, in one "
    "restart of both.",
    "Rotate the apiserver credentials together with every consumer (the chart's clearml.* keys "
    "or existingSecret, the console's CLEARML_API_KEY/SECRET, services set up with the pair).",
    "Rotate token_secret and session_secret.apiserver last, in one restart: everyone is signed "
    "out once, and SDK clients and agents sign in again by themselves.",
    "Run the live check: the apiserver must refuse every public default pair.",
)
