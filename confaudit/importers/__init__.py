"""HTTP-side inputs (observations.jsonl, .mitm, HAR) -> a partial evidence bundle, with bodies decoded and secrets redacted again."""
