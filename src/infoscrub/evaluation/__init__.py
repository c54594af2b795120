"""The paper's evaluation protocol (SPEC §4) as a library; ``infoscrub evaluate`` is a thin
layer over :func:`infoscrub.evaluation.protocol.run_evaluation`.

Modules: ``metrics`` (entropy, TPR/TNR/Acc, L1, PSNR, ECE), ``fid`` (pytorch-fid's
InceptionV3 with local weights, our Fréchet distance), ``protocol`` (evaluate_inversion,
evaluate_obfuscation, run_evaluation), ``collect`` (the pass over the data; its typed results
in ``collected``, with ``samples`` and ``identity_check``), ``summaries`` (one module per
metric, registered in ``registry``), ``summary`` (``EvaluationSummary``: the metrics by name),
``figures``, ``report`` (markdown; documents the metrics.json structure), ``paper_numbers``
(the paper's tables as data).
"""

from infoscrub.evaluation.protocol import evaluate_inversion, evaluate_obfuscation, run_evaluation

__all__ = ["evaluate_inversion", "evaluate_obfuscation", "run_evaluation"]
