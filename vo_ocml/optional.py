"""Optional dependencies: imported by name, or a clear error naming the extra that installs them.

The core install (``pip install vo_ocml``) runs the default method, SAMP, TAP and reports.
DEC needs TensorFlow (``vo_ocml[dec]``); chemical tagging's XGBoost classifier and multitask
representation need XGBoost and TensorFlow (``vo_ocml[chemtag]``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from vo_ocml.errors import MissingDependencyError

#: the distribution a user recognises for each optional module
PACKAGE_NAMES = {"tensorflow": "TensorFlow", "keras": "TensorFlow (Keras)",
                 "xgboost": "XGBoost", "tqdm": "tqdm"}


def require(module: str, feature: str, extra: str) -> ModuleType:
    """Import ``module`` or explain which extra installs it.

    Parameters
    ----------
    module : str
        Top-level module name, e.g. ``"tensorflow"``.
    feature : str
        What needs it, as the user knows it (e.g. ``"DEC"``).
    extra : str
        The vo_ocml extra that installs it (e.g. ``"dec"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependencyError
        ``module`` cannot be imported; the message names the ``pip install`` command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        package = PACKAGE_NAMES.get(top, top)
        raise MissingDependencyError(
            f"{feature} needs {package}, which is not installed: pip install 'vo_ocml[{extra}]'"
        ) from exc
