"""Provisioning a tenant on the apiserver: recorded steps, run in order, resumable.

`calls` builds the steps (with placeholders for ids the server has not returned yet), `lookups`
holds the read calls that settle a step whose answer was lost, and `engine` records and runs them.
"""
