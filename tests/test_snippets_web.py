"""The snippet partial, its htmx fragment and the download, through the real views."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from console.snippets import EnvSetting
from console.snippets.web import build_snippet, register_snippet_source
from tests.snippet_readers import apiserver_reads, read_env_file, read_helm

SECRET = "pa$$word-'hidden'"


@register_snippet_source("test-demo", title="Demo settings", filename="demo", params=("who",))
def _demo(request):
    who = request.GET.get("who", "nobody")
    return [
        EnvSetting.for_path("apiserver.company.unique_names", True),
        EnvSetting.for_path("demo.owner", who),
        EnvSetting.for_path("demo.client_secret", SECRET, secret=True),
    ]


@register_snippet_source("test-broken", title="Broken")
def _broken(request):
    return [EnvSetting("WEBSERVER__x", "two\nlines", service="webserver", hocon=False)]


@pytest.mark.django_db
def test_fragment_shows_tabs_copy_and_download_and_hides_the_secret(admin_client):
    response = admin_client.get(
        reverse("snippets:show", args=["test-demo"]) + "?format=env&who=alice",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment
    assert 'data-copy-target="snippet-test-demo-text"' in html
    assert "CLEARML__demo__owner=alice" in html
    assert "pa$$word" not in html and "hidden&#x27;" not in html
    assert "Secret values are hidden here" in html
    # Every tab has both href and hx-get; the current one is marked.
    assert html.count("hx-get=") >= 4 and 'aria-current="page">env file<' in html
    assert (
        response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    )


@pytest.mark.django_db
def test_download_has_the_real_values_and_a_file_name(admin_client):
    response = admin_client.get(
        reverse("snippets:download", args=["test-demo"]) + "?format=env&who=bob"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="demo.env"'
    assert "no-store" in response["Cache-Control"]
    values = read_env_file(response.content.decode())
    assert apiserver_reads("CLEARML__demo__client_secret", values["CLEARML__demo__client_secret"])
    assert (
        apiserver_reads("CLEARML__demo__client_secret", values["CLEARML__demo__client_secret"])
        == SECRET
    )
    assert apiserver_reads("CLEARML__demo__owner", values["CLEARML__demo__owner"]) == "bob"


@pytest.mark.django_db
def test_download_secret_ref_gives_a_secret_document(admin_client):
    response = admin_client.get(
        reverse("snippets:download", args=["test-demo"]) + "?format=helm&secrets=secret-ref"
    )
    assert response["Content-Disposition"] == 'attachment; filename="demo.values.yaml"'
    values, refs, documents = read_helm(response.content.decode())
    assert refs["CLEARML__demo__client_secret"]["name"] == "clearml-console"
    assert documents[1]["kind"] == "Secret"


@pytest.mark.django_db
def test_helm_tab_offers_the_secret_mode_links(admin_client):
    response = admin_client.get(reverse("snippets:show", args=["test-demo"]) + "?format=helm")
    html = response.content.decode()
    assert "Secrets in a v1 Secret" in html
    assert "secrets=secret-ref" in html


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?format=xml", "?format=helm&secrets=vault"])
def test_download_refuses_unknown_options(admin_client, query):
    response = admin_client.get(reverse("snippets:download", args=["test-demo"]) + query)
    assert response.status_code == 400
    assert b"unknown" in response.content


@pytest.mark.django_db
def test_a_value_the_format_cannot_carry_shows_the_reason(admin_client):
    response = admin_client.get(reverse("snippets:show", args=["test-broken"]) + "?format=env")
    assert "cannot contain a line break" in response.content.decode()
    download = admin_client.get(reverse("snippets:download", args=["test-broken"]) + "?format=env")
    assert download.status_code == 400


@pytest.mark.django_db
def test_unknown_source_is_404(admin_client):
    assert admin_client.get(reverse("snippets:show", args=["nope"])).status_code == 404
    assert admin_client.get(reverse("snippets:download", args=["nope"])).status_code == 404


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("snippets:download", args=["test-demo"]))
    assert response.status_code in (302, 401, 403)
    assert SECRET.encode() not in response.content


def test_tab_links_keep_the_page_and_its_parameters():
    request = RequestFactory().get("/tenants/groups/export/?who=carol&format=env")
    request.htmx = None
    snippet = build_snippet(request, "test-demo")
    assert snippet.fmt == "env"
    helm = snippet.tabs[0]
    assert helm.href.startswith("/tenants/groups/export/?") and "who=carol" in helm.href
    assert "format=helm" in helm.href
    assert helm.hx_get.startswith(reverse("snippets:show", args=["test-demo"]))
    assert "who=carol" in helm.hx_get
    html = render_to_string("console/_snippet.html", {"snippet": snippet})
    assert 'download="demo.env"' in html
