"""A stand-in ClearML apiserver for trying the console and for tests (see the README).

Pure Python (standard library only); the console never imports it.
"""

from .app import FaultPlan, SandboxApp, SandboxError
from .endpoints import MAX_BATCH, VERSION
from .server import SandboxServer
from .state import ROOT_USER_ID, SYSTEM_COMPANY_ID, fingerprint

__all__ = [
    "MAX_BATCH",
    "ROOT_USER_ID",
    "SYSTEM_COMPANY_ID",
    "VERSION",
    "FaultPlan",
    "SandboxApp",
    "SandboxError",
    "SandboxServer",
    "fingerprint",
]
