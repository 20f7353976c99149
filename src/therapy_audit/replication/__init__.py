"""Replication of Moore et al. (FAccT 2025) from the paper's own released files.

Importers for its stigma battery and client stimuli (run through our tasks
``paper_stigma`` and ``paper_crisis``), for its raw results (one tidy
DataFrame in the shape of our ``results_frame``), its headline numbers by
its own coding rules beside this tool's corrected ones, and figures in its
layout. ``therapy-audit replicate PAPER_DIR`` does all of it.
"""

from therapy_audit.replication.crisis_stimuli import PaperCrisisStimulus, load_paper_stimuli
from therapy_audit.replication.headline import (
    appropriate_rates,
    paper_comparison_rows,
    stigma_rates,
)
from therapy_audit.replication.paper_files import PaperFormatError
from therapy_audit.replication.results import paper_results
from therapy_audit.replication.stigma_battery import PaperStigmaItem, load_paper_items

__all__ = [
    "PaperCrisisStimulus",
    "PaperFormatError",
    "PaperStigmaItem",
    "appropriate_rates",
    "load_paper_items",
    "load_paper_stimuli",
    "paper_comparison_rows",
    "paper_results",
    "stigma_rates",
]
