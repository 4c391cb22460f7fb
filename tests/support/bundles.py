"""Whole records for hand-written test bundles (see benchmarks/whole_records.py, shared with the synthetic
benchmark bundles)."""

from benchmarks.whole_records import complete_bundle, complete_record, neutral

__all__ = ["complete_bundle", "complete_record", "neutral"]
