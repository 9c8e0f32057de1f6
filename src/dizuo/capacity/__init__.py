"""Capacity monitoring: storage-exhaustion forecasts, their exporter, reports and alerts."""
