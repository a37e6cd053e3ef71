"""The WSGI entry point ``api.wsgi:app`` (``api.server``; settings from ``JOBGRID_*``).

The server configures only its own loggers; without a root handler the app's warnings (an
outage, an unhandled error with its request id) would go through Python's last-resort
handler without timestamps, so give the root logger one unless the host already did.
"""

from __future__ import annotations

import logging

from api.app import create_app

if not logging.getLogger().handlers:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")

app = create_app()
