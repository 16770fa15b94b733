"""The OpenID Connect authentication backend: mozilla-django-oidc's code flow, with the ID token
checked in full and the role read from the token's groups at every sign-in.

mozilla-django-oidc 5 checks the token's signature and nonce, but not its audience or issuer
(`_verify_jws` decodes with `verify_aud: False`), and reads its endpoints from settings at start.
This backend takes the endpoints from the discovery document and checks, with PyJWT:

- the signature, with the provider's key from its JWKS (asymmetric algorithms only: never
  `none`, never an HMAC keyed with the client secret);
- `iss` (the discovery document's issuer, exactly), `aud` (our client id; `azp` too when there
  are several audiences), `exp`, `iat` (required, with OIDC_LEEWAY seconds of clock skew);
- `nonce` (the one stored with the state in the session; the state is checked by the library's
  callback view, PKCE's code verifier is sent with the code).

A person whose groups match no role is refused (the view shows why) and no user row is made.
"""

import hashlib
import logging
from urllib.parse import quote

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from requests.auth import HTTPBasicAuth

from console.request_reads import user_by_id
from console.roles import LOCAL_ADMIN

from .discovery import ProviderUnavailable, oidc_configured, provider_metadata
from .roles import groups_from_claims, role_for_groups

logger = logging.getLogger(__name__)

USERNAME_PREFIX = "oidc:"
# Signature algorithms accepted for ID tokens: public-key ones only.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# What the callback view shows when the backend refuses a person (request.console_oidc_refusal).
NO_ROLE = "no_role"


class TokenRejected(SuspiciousOperation):
    """The ID token (or the answer around it) failed a check; the message says which."""


def username_for(sub: str) -> str:
    """The user row's name for subject `sub`: never the local account's name."""
    name = USERNAME_PREFIX + sub
    if len(name) <= 150:
        return name
    return USERNAME_PREFIX + "sha256:" + hashlib.sha256(sub.encode()).hexdigest()


class ConsoleOIDCBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # The library reads the endpoints from settings here; they come from discovery instead,
        # when a sign-in needs them (Django builds a backend for every session lookup too).
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.CONSOLE_OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.CONSOLE_OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = "RS256"
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.metadata: dict = {}

    # Only the callback's credentials (nonce, code verifier) fit this signature, so Django never
    # offers a password sign-in to this backend.
    def authenticate(self, request, nonce=None, code_verifier=None):
        if request is None or not oidc_configured():
            return None
        try:
            self.metadata = provider_metadata()
        except ProviderUnavailable as exc:
            raise TokenRejected(str(exc)) from None
        self.OIDC_OP_TOKEN_ENDPOINT = self.metadata["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = self.metadata.get("userinfo_endpoint", "")
        self.OIDC_OP_JWKS_ENDPOINT = self.metadata["jwks_uri"]
        return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)

    def get_token(self, payload):
        """The token request; the client secret goes in HTTP Basic (the spec's default, each part
        form-encoded as RFC 6749 2.3.1 says) unless the provider only takes it in the body. A
        public client (no secret) relies on PKCE alone."""
        secret = payload.pop("client_secret", "") or ""
        auth = None
        if secret:
            methods = self.metadata.get("token_endpoint_auth_methods_supported") or [
                "client_secret_basic"
            ]
            if "client_secret_basic" in methods:
                auth = HTTPBasicAuth(quote(self.OIDC_RP_CLIENT_ID, safe=""), quote(secret, safe=""))
            else:
                payload["client_secret"] = secret
        response = requests.post(
            self.OIDC_OP_TOKEN_ENDPOINT,
            data=payload,
            auth=auth,
            timeout=settings.CONSOLE_OIDC_TIMEOUT,
        )
        if response.status_code != 200:
            # The provider's error code only: its description may echo what was sent.
            raise TokenRejected(f"the token endpoint answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise TokenRejected("the token endpoint answered something that is not JSON") from None
        if not isinstance(answer, dict) or not answer.get("id_token"):
            raise TokenRejected("the token endpoint gave no ID token")
        return answer

    def verify_token(self, token, **kwargs):
        """The ID token's claims after every check (see the module's docstring)."""
        nonce = kwargs.get("nonce")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("the ID token is not a JWT") from None
        algorithm = header.get("alg")
        supported = self.metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        if algorithm not in ASYMMETRIC_ALGORITHMS or algorithm not in supported:
            raise TokenRejected(f"the ID token's algorithm {algorithm!r} is not accepted")
        key = self.signing_key(header, algorithm)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self.metadata["issuer"],
                leeway=settings.OIDC_LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the ID token failed a check: {exc}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise TokenRejected("the ID token is for several audiences and not authorised for us")
        if not nonce or claims.get("nonce") != nonce:
            raise TokenRejected("the ID token's nonce is not the one this sign-in sent")
        return claims

    def signing_key(self, header: dict, algorithm: str) -> jwt.PyJWK:
        """The provider's key that signed the token, from its JWKS: the one with the token's
        `kid` (without a `kid`, the JWKS must hold exactly one signing key for the algorithm)."""
        try:
            response = requests.get(
                self.OIDC_OP_JWKS_ENDPOINT, timeout=settings.CONSOLE_OIDC_TIMEOUT
            )
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise TokenRejected(f"the provider's keys could not be read ({exc})") from None
        candidates = [
            k
            for k in keys
            if isinstance(k, dict)
            and k.get("use", "sig") == "sig"
            and k.get("alg", algorithm) == algorithm
        ]
        kid = header.get("kid")
        if kid is not None:
            candidates = [k for k in candidates if k.get("kid") == kid]
        if len(candidates) != 1:
            raise TokenRejected("no single key of the provider fits the ID token")
        try:
            return jwt.PyJWK(candidates[0], algorithm=algorithm)
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the provider's key is not usable ({exc})") from None

    def get_userinfo(self, access_token, id_token, payload):
        """The person's claims: the ID token's, completed by the userinfo endpoint when the token
        lacks the email or the groups claim (the ID token's values win; the subject must match)."""
        claims = dict(payload)
        wanted = ("email", settings.CONSOLE_OIDC_GROUPS_CLAIM)
        if self.OIDC_OP_USER_ENDPOINT and access_token and any(k not in claims for k in wanted):
            try:
                response = requests.get(
                    self.OIDC_OP_USER_ENDPOINT,
                    headers={"Authorization": f"Bearer {access_token}"},
                    timeout=settings.CONSOLE_OIDC_TIMEOUT,
                )
                response.raise_for_status()
                extra = response.json()
            except (requests.RequestException, ValueError) as exc:
                logger.warning("OpenID Connect userinfo failed: %s", type(exc).__name__)
                extra = {}
            if isinstance(extra, dict) and extra.get("sub") == claims["sub"]:
                claims = {**extra, **claims}
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        groups = groups_from_claims(claims)
        role = role_for_groups(groups)
        self.request.console_oidc_claims = {
            "sub": claims["sub"],
            "email": _email(claims),
            "groups": groups,
        }
        if role is None:
            self.request.console_oidc_refusal = NO_ROLE
            return None
        user, _ = self.UserModel.objects.get_or_create(username=username_for(claims["sub"]))
        changed = {
            "email": _email(claims),
            "first_name": str(claims.get("given_name") or claims.get("name") or "")[:150],
            "last_name": str(claims.get("family_name") or "")[:150],
        }
        if any(getattr(user, name) != value for name, value in changed.items()):
            for name, value in changed.items():
                setattr(user, name, value)
            user.save(update_fields=list(changed))
        # Read by console.accounts.sessions when login() announces the sign-in.
        user.console_signin = {
            "method": "oidc",
            "role": role.label,
            "sub": claims["sub"],
            "groups": groups,
        }
        return user

    def get_user(self, user_id):
        if not oidc_configured():
            return None  # OpenID Connect switched off: its sessions end
        user = user_by_id(user_id)
        if user is None or user.get_username() == LOCAL_ADMIN:
            return None
        if not user.get_username().startswith(USERNAME_PREFIX) or not user.is_active:
            return None
        return user


def _email(claims: dict) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
        return ""
    return email[:254]
