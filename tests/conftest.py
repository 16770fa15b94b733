"""Shared fixtures; feature fixtures live in tests/fixtures/ and are loaded as plugins."""

import os

import pytest

from console.admin_password import ENV_NAME, hash_password

TEST_ADMIN_PASSWORD = "correct horse battery staple"
os.environ[ENV_NAME] = hash_password(TEST_ADMIN_PASSWORD)

pytest_plugins = [
    name
    for name in (
        "tests.fixtures.sandbox",
        "tests.fixtures.browser",
    )
    if os.path.exists(os.path.join(os.path.dirname(__file__), *name.split(".")[1:]) + ".py")
]


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_client(client, django_user_model):
    from console.signin import admin_user

    client.force_login(admin_user(), backend="console.signin.AdminPasswordBackend")
    return client


@pytest.fixture(autouse=True, scope="session")
def _check_prepared_queries():
    """Every prepared query a test runs (console/prepared.py) is compared with what Django
    answers for the same queryset and values; a difference fails the test."""
    from console import prepared

    prepared.CHECK = True
    yield
    prepared.CHECK = False


@pytest.fixture(autouse=True, scope="session")
def _strict_jinja2():
    """A name a Jinja2 list (templates/jinja2/) gets wrong fails the test that renders it; in
    production a missing value renders empty, as it does in Django's templates."""
    from django.template import engines
    from jinja2 import StrictUndefined

    engines["jinja2"].env.undefined = StrictUndefined
