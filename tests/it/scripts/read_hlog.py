"""Reads a redline interval log with HdrHistogram's own Python reader (PyPI `hdrhistogram`,
module `hdrh`) and prints what it found as JSON: the interval count, the total count, and the
count of each interval, for the Rust test to check against report.json.

Usage: python3 read_hlog.py RUN_DIR/latency.hlog
Exit 3 when the `hdrh` module is missing (pip install hdrhistogram).
"""
import json
import sys

try:
    from hdrh.histogram import HdrHistogram
    from hdrh.log import HistogramLogReader
except ImportError:
    print("the Python package `hdrhistogram` is missing: pip install hdrhistogram", file=sys.stderr)
    sys.exit(3)

# The reference histogram only sets the shape of new ones; decode uses the encoded header.
reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3_600_000_000, 3))
counts = []
starts = []
maxima = []
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    counts.append(h.get_total_count())
    starts.append(h.get_start_time_stamp() / 1000.0)
    maxima.append(h.get_max_value())
print(json.dumps({
    "intervals": len(counts),
    "total": sum(counts),
    "counts": counts,
    "start_time_s": reader.get_start_time_sec(),
    "starts_s": starts,
    "max_us": maxima,
}))
