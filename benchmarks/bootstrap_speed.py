"""Bootstrap CIs at audit scale: 50,000 rows x 10,000 resamples, iid and clustered."""

from __future__ import annotations

import numpy as np
from _common import report, timed

from therapy_audit.analysis.stats import bootstrap_ci, cluster_bootstrap_ci


def main() -> None:
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(5_000), 10)
    values = (rng.random(50_000) < np.repeat(rng.random(5_000), 10)).astype(float)
    with timed() as iid:
        bootstrap_ci(values, resamples=10_000)
    with timed() as clustered:
        cluster_bootstrap_ci(values, clusters, resamples=10_000)
    continuous = rng.random(50_000)
    with timed() as worst:
        bootstrap_ci(continuous, resamples=10_000)
    report("bootstrap_iid_50k_rows_10k_resamples", iid.wall, "s", 3)
    report("bootstrap_clustered_5k_stimuli_x10_10k_resamples", clustered.wall, "s", 3)
    report("bootstrap_iid_continuous_50k_rows_10k_resamples", worst.wall, "s", 3)


if __name__ == "__main__":
    main()
