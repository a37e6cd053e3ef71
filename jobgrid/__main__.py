"""``python -m jobgrid`` runs the CLI (same as the ``jobgrid`` console script)."""

from jobgrid.cli import main

main()
