"""Narrative reports: the report model, Jinja rendering in a sandbox, SVG pictures."""
