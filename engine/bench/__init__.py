"""Benchmarks: training throughput (Lightning vs a plain PyTorch loop), inference and stitching
throughput, peak memory (``ptycho-engine bench``, docs/performance.md).

:func:`run_bench` -> figures, :func:`format_report`, :func:`measure_throughput`,
:func:`peak_rss_mib`, :func:`current_rss_mib`; the quality benchmark over the shared sets
(``ptycho-engine bench --quality``): :func:`run_quality_bench`, :func:`format_quality_table`.
"""

from .quality import format_quality_table, run_quality_bench
from .suite import current_rss_mib, format_report, peak_rss_mib, run_bench
from .throughput import measure_throughput

__all__ = [
    "current_rss_mib",
    "format_quality_table",
    "format_report",
    "measure_throughput",
    "peak_rss_mib",
    "run_bench",
    "run_quality_bench",
]
