"""The Security page: live check of default credentials, secret generation, file audit."""

from functools import partial

from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.audit import actor_for_request
from console.htmx import wants_fragment

from . import catalog, rotation
from .api_audit import api_audit_snippets
from .audit_files import MAX_FILE_BYTES, MAX_FILES, input_errors
from .findings import AuditInputError, AuditReport
from .forms import AuditUploadForm, GenerateForm
from .generate import SupervisorUser, render_server_secrets
from .live_check import check_default_credentials
from .services import record_audit_failure, secrets_audit, secrets_generate

# The four snippet formats (docs/snippets.md), plus Helm with Kubernetes Secrets (secret-ref).
OUTPUTS = (
    ("helm", "inline", "Helm values", "clearml-secrets.values.yaml"),
    ("helm", "secret-ref", "Helm values + Secrets", "clearml-secrets.secret-ref.yaml"),
    ("compose", "inline", "docker-compose", "clearml-secrets.compose.yml"),
    ("env", "inline", "env file", "clearml-secrets.env"),
    ("shell", "inline", "shell", "clearml-secrets.sh"),
)
SEVERITY_BADGES = {"high": "badge-bad", "medium": "badge-warn", "low": "badge-info", "info": ""}
# multipart overhead on top of the files themselves
UPLOAD_LIMIT = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024


def with_code(text: str) -> str:
    """Escape `text` and show its `backticked` parts as code (messages name settings that way)."""
    parts = escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show the text as it is
        return mark_safe(escape(text))  # noqa: S308 - escaped above
    html = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return mark_safe(html)  # noqa: S308 - every part is escaped


def _page_context(**extra) -> dict:
    context = {
        "generate_form": GenerateForm(),
        "audit_form": AuditUploadForm(),
        "rotation": rotation.ROTATION,
        "roll_order": rotation.ROLL_ORDER,
        "settings_list": catalog.SERVER_SECRETS,
        "sources": catalog.sources(),
        "max_mib": MAX_FILE_BYTES // (1024 * 1024),
        "api_audit": api_audit_snippets(),
    }
    context.update(extra)
    return context


def _respond(request, fragment: str, context: dict, *, status: int = 200, secret=False):
    template = fragment if wants_fragment(request) else "security/page.html"
    if wants_fragment(request):
        # htmx 2 does not swap 4xx answers: the fragment with the errors must arrive as 200.
        status = 200
    response = render(request, template, _page_context(**context), status=status)
    patch_vary_headers(response, ("HX-Request",))
    if secret:
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_GET
def security_page(request):
    # ?check=1: run the live check in the page itself (the links' target without JavaScript)
    context = {}
    if request.GET.get("check") == "1":
        context["check"] = check_default_credentials(refresh=True)
    return _respond(request, "security/page.html", context)


@never_cache
@require_GET
def live_check(request):
    check = check_default_credentials(refresh=request.GET.get("refresh") == "1")
    context = {"check": check, "compact": request.GET.get("compact") == "1"}
    response = render(request, "security/_live_check.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@sensitive_variables()  # the new values sit in locals of frames below too (context, render)
@never_cache
@require_POST
def generate(request):
    form = GenerateForm(request.POST)
    if not form.is_valid():
        return _respond(request, "security/_generate.html", {"generate_form": form}, status=400)
    data = form.cleaned_data
    supervisor = _supervisor(data)
    outputs = secrets_generate(
        actor=actor_for_request(request),
        formats=[f"{fmt} ({mode})" if mode != "inline" else fmt for fmt, mode, _l, _f in OUTPUTS],
        supervisor=supervisor,
        platform_management=data["platform_management"],
        show=partial(
            _secret_files,
            secret_name=data["secret_name"],
            chart_secret_name=data["chart_secret_name"],
        ),
    )
    return _respond(
        request,
        "security/_generate.html",
        {"generate_form": form, "outputs": outputs},
        secret=True,
    )


def _supervisor(data: dict) -> SupervisorUser | None:
    """The supervisor user the form asks for, or None."""
    if not data["supervisor"]:
        return None
    return SupervisorUser(email=data["supervisor_email"], company=data["supervisor_company"])


@sensitive_variables()  # the generated values, and every file made of them
def _secret_files(generated, *, secret_name: str, chart_secret_name: str) -> list[dict]:
    """The generated set in each of OUTPUTS, as the page shows it."""
    return [
        {
            "id": f"secrets-{fmt}-{mode}",
            "label": label,
            "filename": filename,
            "text": render_server_secrets(
                generated,
                fmt,
                secrets=mode,
                secret_name=secret_name,
                chart_secret_name=chart_secret_name,
            ),
        }
        for fmt, mode, label, filename in OUTPUTS
    ]


@never_cache
@require_http_methods(["POST"])
def audit_upload(request):
    too_large = _upload_too_large(request)
    if too_large is not None:
        return too_large
    form = AuditUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _respond(request, "security/_audit.html", {"audit_form": form}, status=400)
    try:
        report = _audit_uploads(request, form.cleaned_data)
    except (AuditInputError, _Errors) as exc:
        found = getattr(exc, "errors", [exc])
        return _respond(
            request,
            "security/_audit.html",
            {"audit_form": form, "audit_errors": [str(e) for e in found]},
            status=400,
        )
    return _respond(
        request,
        "security/_audit.html",
        {"audit_form": AuditUploadForm(), "report": report, "findings": _findings(report)},
    )


class _Errors(Exception):
    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def _upload_too_large(request):
    """The 413 answer when the request is larger than any upload the audit takes, else None."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length <= UPLOAD_LIMIT:
        return None
    return _respond(
        request,
        "security/_audit.html",
        {
            "audit_errors": [
                f"The upload is {length / (1024 * 1024):.1f} MiB; the audit takes at most "
                f"{MAX_FILES} files of {MAX_FILE_BYTES // (1024 * 1024)} MiB each."
            ]
        },
        status=413,
    )


@sensitive_variables()  # the files' contents: the secret values being audited
def _audit_uploads(request, data: dict) -> AuditReport:
    """Audit the uploaded files and record it; raise _Errors listing every file that cannot be
    read (recorded as a failure), or AuditInputError from the audit itself."""
    inputs, errors = _read_uploads(data["files"])
    actor = actor_for_request(request)
    if errors:
        errors += input_errors(inputs)
        names = [u.name for u in data["files"]]
        record_audit_failure(actor=actor, names=names, error=errors[0])
        raise _Errors(errors)
    return secrets_audit(actor=actor, inputs=inputs, partial=data["partial"])


@sensitive_variables()  # the files' contents: the secret values being audited
def _read_uploads(files) -> tuple[list[tuple[str, bytes]], list[AuditInputError]]:
    """(name, content) of each file the audit can read, and an error for each one too large."""
    inputs, errors = [], []
    for upload in files:
        name = upload.name or "upload"
        if upload.size > MAX_FILE_BYTES:
            errors.append(
                AuditInputError(
                    name,
                    f"is {upload.size / (1024 * 1024):.1f} MiB; the audit reads files up to "
                    f"{MAX_FILE_BYTES // (1024 * 1024)} MiB",
                )
            )
            continue
        inputs.append((name, upload.read(MAX_FILE_BYTES + 1)))
    return inputs, errors


def _findings(report: AuditReport) -> list[dict]:
    """The report's findings, most severe first, with their badges and code-marked text."""
    return [
        {
            "f": f,
            "badge": SEVERITY_BADGES[f.severity],
            "message": with_code(f.message),
            "fix": with_code(f.fix),
        }
        for f in report.sorted_findings()
    ]
