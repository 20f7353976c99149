"""Analysis at scale: the tidy frame (and the report, when available) from 50,000 samples.

Real logs are made by a short scripted run of each experiment; their samples
are then replicated (new ids, same content) into ten logs of 5,000 samples,
written with Inspect's own log writer. Prints the time to build the frame,
the time to compute the tables, and the peak resident memory.

    python benchmarks/analysis_scale.py --samples 50000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

from _common import report, timed
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log, write_eval_log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import scripted_provider  # noqa: E402,F401  (registers the scripted respondent)
from therapy_audit.analysis.frame import results_frame  # noqa: E402
from therapy_audit.experiments.crisis import analysis as crisis_tables  # noqa: E402
from therapy_audit.experiments.crisis.task import crisis  # noqa: E402
from therapy_audit.experiments.stigma import analysis as stigma_tables  # noqa: E402
from therapy_audit.experiments.stigma.task import stigma  # noqa: E402

LOGS = 10


def seed_logs(folder: Path) -> list[str]:
    """One small real log per experiment."""
    stigma_log = inspect_eval(
        stigma(variants="full", counterbalance=False),
        model="scripted/always-a",
        log_dir=str(folder / "seed"),
        display="none",
        limit=500,
    )[0]
    crisis_log = inspect_eval(
        crisis(judge="checks"),
        model="scripted/supportive",
        log_dir=str(folder / "seed"),
        display="none",
    )[0]
    return [stigma_log.location, crisis_log.location]


def replicate(seed: str, copies: int, per_log: int, folder: Path, tag: str) -> None:
    """Write ``copies`` logs of ``per_log`` samples each, cycling the seed log's samples."""
    log = read_eval_log(seed)
    samples = log.samples or []
    for copy in range(copies):
        out = []
        for i in range(per_log):
            sample = samples[i % len(samples)].model_copy()
            sample.id = f"{sample.id}/rep-{copy}-{i}"
            out.append(sample)
        log.samples = out
        # Distinct runs: the analysis keeps one log per task_id (a resumed log
        # replaces the log it resumed), so copies must not share it.
        log.eval.eval_id = f"{log.eval.eval_id[:12]}{tag}{copy}"
        log.eval.task_id = f"{log.eval.task_id[:12]}{tag}{copy}"
        write_eval_log(log, str(folder / f"{tag}-{copy}.eval"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=50_000)
    args = parser.parse_args()
    per_log = args.samples // LOGS
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stigma_seed, crisis_seed = seed_logs(folder)
        data = folder / "data"
        data.mkdir()
        replicate(stigma_seed, LOGS // 2, per_log, data, "stigma")
        replicate(crisis_seed, LOGS - LOGS // 2, per_log, data, "crisis")
        with timed() as t_frame:
            frame = results_frame([data])
        with timed() as t_tables:
            stigma_tables.by_condition(frame)
            stigma_tables.by_item(frame)
            stigma_tables.position_bias(frame)
            crisis_tables.appropriate_rates(frame, ["condition"])
            crisis_tables.worst_stimuli(frame)
        report("analysis_samples", len(frame), "rows", 0)
        report("analysis_frame_build", t_frame.wall, "s")
        report("analysis_tables", t_tables.wall, "s")
        try:
            from therapy_audit.report import build_report, render
        except ImportError:
            print("analysis_report: skipped (report module not available)")
        else:
            with timed() as t_report:
                html = render(build_report([str(data)]))
            report("analysis_report_build", t_report.wall, "s")
            report("analysis_report_size", len(html.encode()) / 1e6, "MB")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report("analysis_peak_rss", peak_mb, "MB", 0)


if __name__ == "__main__":
    main()
