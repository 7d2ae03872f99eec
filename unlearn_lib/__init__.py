"""unlearn_lib: models, data, unlearning strategies and metrics for the unlearn-study notebooks."""

from __future__ import annotations

from .strategies import list_strategies, unlearn
from .tasks import ClassificationTask, Task
from .utils import resolve_device, seed_everything

__version__ = "0.1.0"
__all__ = ["ClassificationTask", "Task", "__version__", "list_strategies", "resolve_device", "seed_everything", "unlearn"]
