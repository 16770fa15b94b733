"""The JSON API under /api/v1/ (docs/api.md): a face of the console like the pages and the SPEC
commands. It authenticates bearer tokens, checks each endpoint's role, reads with the selectors
the pages use and makes every change through the change pipeline (changes/)."""
