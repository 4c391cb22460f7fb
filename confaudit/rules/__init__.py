"""Claims as code: claims files, check predicates over the evidence bundle, the engine, scores, diffs."""
