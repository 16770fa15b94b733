"""Tenant pages, split by feature: list/import, create/plan/apply, detail, edit, credentials,
deletion by runbook."""
