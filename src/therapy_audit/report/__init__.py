"""The report: logs -> context (``build``) -> one self-contained HTML file (``render``).

The same context also exports as JSON or CSV (``export``), so every format
carries the same numbers.
"""

from therapy_audit.report.build import ReportContext, ReportInputError, build_report
from therapy_audit.report.render import render
from therapy_audit.report.versions import MixedVersionsError

__all__ = ["MixedVersionsError", "ReportContext", "ReportInputError", "build_report", "render"]
