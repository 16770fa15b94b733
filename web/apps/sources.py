"""The `app-visibility` snippet source: the server-wide policy given in the page's query string
(`?allowed=&apps=`), as CLEARML__services__applications__app_instance_access__… variables."""

from django.http import HttpRequest

from console.app_visibility import parse_policy, policy_settings
from console.snippets import EnvSetting
from console.snippets.web import register_snippet_source
from console.validation import InvalidInput


def server_policy_settings(request: HttpRequest) -> list[EnvSetting]:
    try:
        policy = parse_policy(request.GET.get("allowed", ""), request.GET.get("apps", ""))
    except InvalidInput as exc:
        raise ValueError(" ".join(e.message for e in exc.errors)) from None
    return policy_settings(policy)


register_snippet_source(
    "app-visibility",
    server_policy_settings,
    title="Application instance visibility (server)",
    filename="clearml-app-visibility",
    params=("allowed", "apps"),
)
