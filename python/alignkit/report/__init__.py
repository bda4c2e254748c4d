"""Shared report building blocks: `alignkit.report.html`, the HTML and SVG chart kit."""
