"""The stigma battery on the embedded model: wall time, throughput, unusable share, prefix reuse.

Also replays the very same prompts straight through the llama.cpp runtime,
with and without its prompt cache, to show the limit the harness is measured
against and how many prompt tokens the shared vignette prefix saves.

    python benchmarks/stigma_local.py                 # full battery, both option orders
    python benchmarks/stigma_local.py --one-order     # full battery, scale order only
    python benchmarks/stigma_local.py --variants quick
"""

from __future__ import annotations

import argparse
import tempfile

from _common import report
from _local_model import replay, run_local

from therapy_audit.execution import RunRequest
from therapy_audit.experiments.stigma.task import stigma
from therapy_audit.providers.local_api import default_threads


def raw_requests(prompts: list[str], cache_prompt: bool) -> list[dict]:
    """The one-token, top-20 log-probability requests a stigma question makes."""
    return [
        {
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 20,
            "cache_prompt": cache_prompt,
        }
        for prompt in prompts
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variants", choices=["quick", "full"], default="full")
    parser.add_argument("--one-order", action="store_true", help="no counterbalancing")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    args = parser.parse_args()
    task = stigma(variants=args.variants, counterbalance=not args.one_order)
    prompts = [str(sample.input) for sample in task.dataset]
    threads = args.threads or default_threads()
    name = (
        f"stigma_{args.variants}_{'one_order' if args.one_order else 'counterbalanced'}"
        f"_{threads}thread"
    )
    with tempfile.TemporaryDirectory() as log_dir:
        # The way `therapy-audit run stigma [--full]` runs it, without the cache.
        run = run_local(
            name,
            RunRequest(
                experiment="stigma",
                model="local/smollm2",
                task_args={"variants": args.variants, "counterbalance": not args.one_order},
                model_args={"n_threads": threads},
                log_dir=log_dir,
                cache=False,
                display="none",
            ),
        )
    evaluated = run.usage.input_tokens
    report(f"{name}_prompt_eval_rate", evaluated / run.wall, "tokens/s", 0)
    if args.skip_raw:
        return
    raw = replay(raw_requests(prompts, cache_prompt=True), threads)
    report(f"{name}_raw_runtime_wall", raw["wall"], "s", 1)
    report(f"{name}_harness_over_raw", run.wall / raw["wall"], "x")
    nocache = replay(raw_requests(prompts[:200], cache_prompt=False), threads)
    per_prompt = nocache["evaluated"] / 200
    report(f"{name}_raw_no_prefix_cache_tokens_per_prompt", per_prompt, "tokens", 1)
    report(
        f"{name}_raw_with_prefix_cache_tokens_per_prompt",
        raw["evaluated"] / len(prompts),
        "tokens",
        1,
    )
    report(f"{name}_no_prefix_cache_wall_estimate", nocache["wall"] / 200 * len(prompts), "s", 1)


if __name__ == "__main__":
    main()
