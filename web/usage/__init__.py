"""Usage and cost pages (/usage/): the stored reports, Fetch, downloads, the aggregator form."""
