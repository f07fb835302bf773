"""The web demo: ``create_app`` builds a FastAPI app over :class:`~edgefer.recognize.Recognizer`.

Needs the ``web`` extras (fastapi, uvicorn, python-multipart). Run it with ``edgefer serve``.
"""
from edgefer.web.app import create_app

__all__ = ["create_app"]
