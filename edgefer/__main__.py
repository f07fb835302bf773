"""``python -m edgefer`` runs the command line (also under ``torchrun -m edgefer``)."""
from edgefer.cli.main import app

if __name__ == "__main__":
    app()
