"""Usage reports as the metering service last answered them, kept so pages never wait for it.

One `UsageReport` per date range; each fetch replaces its tenants and categories. A failed
fetch keeps what was read before and records the failure on the report.
"""

from django.db import models


class UsageReport(models.Model):
    from_date = models.DateField()
    to_date = models.DateField()
    fetched_at = models.DateTimeField(null=True, blank=True)  # the last successful fetch
    attempted_at = models.DateTimeField(null=True, blank=True)
    error_kind = models.CharField(max_length=40, blank=True)  # "", "not configured", ...
    error = models.TextField(blank=True)
    # The worker's "last 30 days": each day's range replaces the one before (store.py).
    rolling = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_date", "to_date"], name="usage_report_range")
        ]
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"usage {self.from_date}..{self.to_date}"


class UsageTenant(models.Model):
    """One tenant of a report: the metering service's `tenant` (a company id) and totals."""

    report = models.ForeignKey(UsageReport, on_delete=models.CASCADE, related_name="tenants")
    tenant = models.CharField(max_length=200)
    name = models.CharField(max_length=300, blank=True)  # the console tenant's, when known
    currency = models.CharField(max_length=40, blank=True)
    total_cost = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "tenant"], name="usage_tenant_once")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name or self.tenant


class UsageCategory(models.Model):
    """One category (event type) of a tenant: its daily usages and costs."""

    tenant = models.ForeignKey(UsageTenant, on_delete=models.CASCADE, related_name="categories")
    category = models.CharField(max_length=200)
    unit_name = models.CharField(max_length=100, blank=True)
    total_usage = models.FloatField(default=0.0)
    total_cost = models.FloatField(default=0.0)
    dates = models.JSONField(default=list)
    usages = models.JSONField(default=list)
    costs = models.JSONField(default=list)
    labels = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "category"], name="usage_category_once")
        ]

    def __str__(self) -> str:
        return self.category
