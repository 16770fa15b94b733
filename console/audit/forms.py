"""The Audit page's filter form: validates GET parameters into an AuditFilter."""

from django import forms

from .models import AuditEntry
from .queries import AuditFilter

OUTCOME_CHOICES = [("", "Any outcome"), *AuditEntry.Outcome.choices]


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(
        required=False, max_length=100, help_text="Exact name; end with * for a family."
    )
    target_type = forms.CharField(required=False, max_length=50, label="Target type")
    target = forms.CharField(required=False, max_length=255, help_text="An id or exact name.")
    outcome = forms.ChoiceField(required=False, choices=OUTCOME_CHOICES)
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(required=False, max_length=200, label="Text")
    request_id = forms.CharField(required=False, max_length=64, label="Request id")
    changeset = forms.CharField(required=False, max_length=32, label="Changeset")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    def to_filter(self) -> AuditFilter:
        """The filter; call only after is_valid()."""
        data = self.cleaned_data
        return AuditFilter(
            actor=data.get("actor") or "",
            action=data.get("action") or "",
            target_type=data.get("target_type") or "",
            target=data.get("target") or "",
            outcome=data.get("outcome") or "",
            since=data.get("since"),
            until=data.get("until"),
            q=data.get("q") or "",
            request_id=data.get("request_id") or "",
            changeset=data.get("changeset") or "",
        )
