"""Usage and cost from ClearML's metering service: its client, the stored reports, the charts.

Pages read the stored reports (models.py); `changes/usage.py` fetches them (docs/usage.md).
"""
