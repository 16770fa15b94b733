"""Tenants as code (docs/spec.md): validate a whole SPEC, plan with read calls
only, apply concurrently across tenants, export the console's state as a SPEC."""
