"""Forms of the Security page: what to generate, and which files to audit."""

from django import forms

from console.identifiers import MAX_COMPANY_ID, MAX_EMAIL_LENGTH, normalize_email
from console.snippets.render import DNS_SUBDOMAIN, MAX_DNS_SUBDOMAIN
from console.validation import InvalidInput, shown

from .audit_files import MAX_FILE_BYTES, MAX_FILES
from .generate import DEFAULT_CHART_SECRET_NAME, DEFAULT_ENV_SECRET_NAME


class GenerateForm(forms.Form):
    supervisor = forms.BooleanField(
        required=False,
        label="Add the multi-tenant supervisor user",
        help_text="role system, allow_login, sec_groups users/admins/queue_admins",
    )
    supervisor_email = forms.CharField(
        required=False,
        max_length=MAX_EMAIL_LENGTH,
        label="Supervisor email",
        error_messages={
            "max_length": "The supervisor email is %(show_value)d characters long; shorten it to "
            "at most %(limit_value)d."
        },
    )
    supervisor_company = forms.CharField(
        required=False,
        max_length=MAX_COMPANY_ID,
        error_messages={
            "max_length": "The supervisor company id is %(show_value)d characters long; a "
            "company id has at most %(limit_value)d."
        },
        label="Supervisor company id (optional)",
        help_text="services.workers.resource_usages.supervisor_company",
    )
    platform_management = forms.BooleanField(
        required=False,
        label="Add Platform Management Center credentials",
        help_text="secure.credentials.platform_management (ClearML Enterprise)",
    )
    secret_name = forms.CharField(
        initial=DEFAULT_ENV_SECRET_NAME,
        max_length=MAX_DNS_SUBDOMAIN,
        label="Secret for extraEnvs (Helm, secret-ref)",
        error_messages={
            "required": "The extraEnvs Secret's name is required; for example "
            f"{DEFAULT_ENV_SECRET_NAME}.",
            "max_length": "The extraEnvs Secret's name is %(show_value)d characters long; a "
            "Kubernetes name has at most %(limit_value)d.",
        },
    )
    chart_secret_name = forms.CharField(
        initial=DEFAULT_CHART_SECRET_NAME,
        max_length=MAX_DNS_SUBDOMAIN,
        label="Secret for clearml.existingSecret",
        error_messages={
            "required": "The clearml.existingSecret name is required; for example "
            f"{DEFAULT_CHART_SECRET_NAME}.",
            "max_length": "The clearml.existingSecret name is %(show_value)d characters long; a "
            "Kubernetes name has at most %(limit_value)d.",
        },
    )

    def clean_supervisor_company(self) -> str:
        value = self.cleaned_data["supervisor_company"].strip()
        if value and not value.replace("-", "").isalnum():
            raise forms.ValidationError(
                f"The supervisor company id {shown(value)} is not a company id; use only "
                "letters, digits and '-', or leave it empty."
            )
        return value

    def _secret_name(self, field: str) -> str:
        value = self.cleaned_data[field].strip()
        if not DNS_SUBDOMAIN.match(value):
            raise forms.ValidationError(
                f"{self.fields[field].label}: {shown(value)} is not a valid Kubernetes Secret "
                "name; use lower-case letters, digits, '-' and '.', starting and ending with a "
                "letter or digit."
            )
        return value

    def clean_secret_name(self) -> str:
        return self._secret_name("secret_name")

    def clean_chart_secret_name(self) -> str:
        return self._secret_name("chart_secret_name")

    def clean(self):
        data = super().clean()
        if data.get("supervisor"):
            try:
                data["supervisor_email"] = normalize_email(
                    data.get("supervisor_email", ""), "supervisor_email"
                )
            except InvalidInput as exc:
                self.add_error("supervisor_email", exc.errors[0].message)
        if data.get("secret_name") and data.get("secret_name") == data.get("chart_secret_name"):
            self.add_error(
                "chart_secret_name",
                f"The clearml.existingSecret name {shown(data['chart_secret_name'])} is also the "
                "extraEnvs Secret's name; choose a different name.",
            )
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files; each is checked by the audit itself (size, binary, syntax)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if not files:
            raise forms.ValidationError(
                "Deployment files: choose at least one file (Helm values, a Secret manifest, a "
                "compose or env file)."
            )
        if len(files) > MAX_FILES:
            raise forms.ValidationError(
                f"Deployment files: {len(files)} files were chosen; audit at most {MAX_FILES} "
                "at once."
            )
        return files


class AuditUploadForm(forms.Form):
    files = MultipleFileField(
        label="Deployment files",
        help_text=(
            "Helm values, Kubernetes Secret manifests, docker-compose files, env files or "
            f"secure.conf; up to {MAX_FILES} files of {MAX_FILE_BYTES // (1024 * 1024)} MiB each."
        ),
    )
    partial = forms.BooleanField(
        required=False,
        label="These files are only part of the deployment",
        help_text="Do not report settings they leave out.",
    )
