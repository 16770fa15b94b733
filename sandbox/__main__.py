"""`python -m sandbox`: the sandbox apiserver without Django (same options as the command)."""

import sys

from .cli import main

sys.exit(main())
