"""Tools for instructors, not learners: grading submissions in a sandbox (``grade``), the verdicts the grader
reaches itself (``trusted_checks``, ``autograde``), and the pieces behind them (``sandbox``, ``kernel``,
``wire``, ``submissions``, ``gradebook``). No notebook imports them but through the wire.
"""
