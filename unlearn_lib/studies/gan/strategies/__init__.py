"""GAN unlearning strategies, one file each, registered in ``GAN_STRATEGIES`` by name.

Every module in this package is imported here, so a new GAN strategy is one new file with
``@register_gan("name")`` and nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
