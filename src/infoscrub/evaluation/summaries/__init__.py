"""The evaluation's metrics, one module each: its compute function (registered with
``evaluation.registry.register_metric``), its flat value names and its report section.

The import order below is the registration order: the order of the metrics in
``metrics.json``'s entries and of their sections in ``report.md``. A module may import the
names of the modules above it, never of those below (importing one registers it early).
"""

from infoscrub.evaluation.summaries import inversion  # noqa: F401  (imported to register)
from infoscrub.evaluation.summaries import obfuscation  # noqa: F401
from infoscrub.evaluation.summaries import utility  # noqa: F401
from infoscrub.evaluation.summaries import identity  # noqa: F401
from infoscrub.evaluation.summaries import fidelity  # noqa: F401
from infoscrub.evaluation.summaries import adversary  # noqa: F401
from infoscrub.evaluation.summaries import reshare  # noqa: F401
from infoscrub.evaluation.summaries import code_accuracy  # noqa: F401
