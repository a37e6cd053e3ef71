"""Client side of jobgrid: the ``jobgrid`` CLI, the local process launcher and an HTTP client.

Nothing in this package is imported by the API or the workers; it talks to them over HTTP
(``jobgrid.client``) or starts them as child processes (``jobgrid.launcher``).
"""

__version__ = "0.1.0"
