"""The shipped Hydra config tree (package data: the yaml files travel inside the wheel and the sdist).

A package (not a loose repository folder) so that ``gghl-train`` and the other commands find their configs
from any working directory, in a built-wheel install as in an editable one. Hydra reads it as a plain folder
(``file://`` search path), so error messages name real files; ``pkg://gghl.configs`` names the same tree.
A user's own folder joins the search path with ``--config-dir DIR``: new experiment or group files
(``experiment=mine``), or a primary config of its own (``--config-name my_train`` whose defaults list
``train``). Hydra searches this tree first, so a user file with the name of a shipped one does not replace it.

Kept free of imports beyond the standard library: ``gghl-train --help`` reads the yaml through
:data:`CONFIG_DIR` before torch or Hydra load.
"""

from __future__ import annotations

from importlib.resources import files

#: Absolute path of this folder (``train.yaml``, ``eval.yaml``, ... and the config groups).
CONFIG_DIR: str = str(files(__name__))
