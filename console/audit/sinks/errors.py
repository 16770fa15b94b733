"""The one error a transport raises: the receiver did not acknowledge the batch."""


class DeliveryFailed(Exception):
    """The batch was not acknowledged; the message says why (never holds the secret)."""
