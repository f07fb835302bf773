"""Model registry; importing this package registers every model family."""
from edgefer.models._fusion import set_eager_fusion
from edgefer.models._registry import create_model, list_models, register_model
from edgefer.models import edgecnn as _edgecnn  # noqa: F401  (registers)
from edgefer.models import fernet as _fernet  # noqa: F401
from edgefer.models import frrcnn as _frrcnn  # noqa: F401
from edgefer.models import rcnn as _rcnn  # noqa: F401

__all__ = ["create_model", "list_models", "register_model", "set_eager_fusion"]
