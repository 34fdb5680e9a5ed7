from .model import SketchFormer  # noqa: F401
from .utils import smoothed_ce  # noqa: F401
