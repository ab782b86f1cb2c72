"""``python -m cryomem`` runs the command line, like the ``cryomem`` console script."""

from cryomem.cli import main

main()
