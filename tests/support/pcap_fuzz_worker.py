"""Child process for the capture fuzz test: reads "CHUNK_BYTES PATH" per stdin line, answers one JSON line.

Runs under an address-space limit set by the parent; anything but InputError is reported as a crash.
"""

from __future__ import annotations

import json
import sys


def read_one(chunk_bytes: int, path: str) -> dict:
    from confaudit.errors import InputError
    from confaudit.pcap.reader import CaptureReader

    try:
        reader = CaptureReader(path, chunk_bytes=chunk_bytes)
        rows = sum(len(chunk) for chunk in reader.chunks())
        rep = reader.report
        return {"rows": rows, "records_read": rep.records_read, "records_skipped": rep.records_skipped,
                "non_ip": rep.non_ip_records, "truncated_ip": rep.truncated_ip_records,
                "complete": rep.complete, "bytes_consumed": rep.bytes_consumed, "warnings": list(rep.warnings)}
    except InputError as err:
        return {"error": str(err)}
    except BaseException as err:  # the test fails on these
        return {"crash": f"{type(err).__name__}: {err}"}


def main() -> None:
    import numpy  # noqa: F401  - import before answering, so the first mutant's time is its own

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        chunk_bytes, path = line.rstrip("\n").split(" ", 1)
        print(json.dumps(read_one(int(chunk_bytes), path)), flush=True)


if __name__ == "__main__":
    main()
