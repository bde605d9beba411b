"""``python -m deepsport`` runs the CLI."""

from deepsport.cli import main

main()
