"""Tenants as code (CONTRACT.md "The SPEC file"): validate a whole SPEC, plan with read calls
only, apply concurrently across tenants, export the console's state as a SPEC."""
