"""The fidelity audit: ANN vs float SNN vs deployed integer SNN (`audit`), and its report.

    result = audit(model, dep, data, labels, timesteps=32, tolerance=1.0)
    write_report(result, "audit.json", "audit.html")
    audit_section(result)      # the dict the demo puts under "audit" in its report.json
    html_fragment(result)      # an HTML <section> with the plots, for the demo's report.html
"""
from __future__ import annotations

from .audit import AuditResult, LayerAudit, audit
from .report import audit_section, html_fragment, html_page, write_report

__all__ = ["audit", "AuditResult", "LayerAudit", "write_report", "audit_section",
           "html_fragment", "html_page"]
