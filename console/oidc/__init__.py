"""Console sign-in through OpenID Connect (mozilla-django-oidc, authorization code flow + PKCE).

- `discovery`: the issuer's endpoints, from its `/.well-known/openid-configuration` (cached);
- `roles`: the role a person's groups give (the highest of the matching role groups);
- `backend`: checks the ID token (JWKS signature, iss, aud, exp, nonce) and finds or makes the
  person's user row;
- `views`: the start of the flow and the callback (`/oidc/callback/`), with the refusal page.

See docs/sign-in.md.
"""
