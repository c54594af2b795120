"""infoscrub: hide chosen face attributes in photos by targeted inversion or obfuscation.

Implements "InfoScrub: Towards Attribute Privacy by Targeted Obfuscation" (Wang, Orekondy,
Fritz). The package is laid out by concern: ``data``, ``models``, ``losses``, ``training``,
``evaluation``, ``faces``, ``service`` and ``baselines``; ``cli`` is a thin layer over them.
"""

__version__ = "0.1.0"

from infoscrub.errors import InfoscrubError  # noqa: E402

__all__ = ["InfoscrubError", "__version__"]
