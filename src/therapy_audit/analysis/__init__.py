"""Analysis: Inspect logs -> one tidy DataFrame -> rates with CIs, tables, figures."""

from therapy_audit.analysis.frame import results_frame
from therapy_audit.analysis.stats import bootstrap_ci, rate_table

__all__ = ["bootstrap_ci", "rate_table", "results_frame"]
