"""Application instance visibility pages (/apps/visibility/): server settings and per tenant."""
