"""What bounds the embedded model's generation: llama.cpp alone, by threads and slots.

``slots_local.py`` measures slots through the whole harness. This measures
the engine without it: one ``xllamacpp.Server`` per (threads, slots), in a
fresh process, given ``2 x slots`` chat requests at once from plain threads,
each generating exactly ``--tokens`` tokens (end-of-sequence ignored), and
prints generated tokens/s. If the rate does not grow with slots at a fixed
thread count, decoding several sequences together saves nothing on this
hardware: each step's cost grows with the number of sequences in it (the
work is compute-bound, not a matter of reading the weights once per step).

    python benchmarks/slots_raw.py --threads 1 2 --slots 1 2 4 8 --tokens 128
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import report

PROMPTS = (
    "I keep lying awake at night going over everything I said at work. How do I switch off?",
    "My sister stopped talking to me after an argument about our mum's care. What should I do?",
    "I've been drinking more since the move and I'm not sure it matters. Does it?",
    "Can you help me plan a calmer morning routine? I'm always rushing and snapping at the kids.",
)


def one(threads: int, slots: int, tokens: int) -> dict[str, float]:
    """Generated tokens/s of one engine at ``threads`` and ``slots`` (in this process)."""
    from therapy_audit.providers.local_api import DEFAULT_N_CTX, _Engine, _EngineKey
    from therapy_audit.providers.model_files import DEFAULT_LOCAL_MODEL, resolve_model_file

    key = _EngineKey(resolve_model_file(DEFAULT_LOCAL_MODEL), DEFAULT_N_CTX, threads, slots)
    engine = _Engine(key)

    def ask(i: int) -> int:
        request = {
            "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            "max_tokens": tokens,
            "temperature": 0.0,
            "seed": i,
            "ignore_eos": True,
        }
        return int(engine.chat(request)["usage"]["completion_tokens"])

    ask(0)  # load and warm up outside the clock
    requests = 2 * slots
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=requests) as pool:
        generated = sum(pool.map(ask, range(requests)))
    wall = time.perf_counter() - started
    return {"generated": generated, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--one", nargs=2, type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one[0], args.one[1], args.tokens)), flush=True)
        return
    for threads in args.threads:
        base = None
        for slots in args.slots:
            command = [sys.executable, str(Path(__file__)), "--one", str(threads), str(slots)]
            command += ["--tokens", str(args.tokens)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            rate = figures["generated"] / figures["wall"]
            base = base or rate
            name = f"raw_threads_{threads}_slots_{slots}"
            report(f"{name}_generation_rate", rate, "tokens/s", 1)
            report(f"{name}_speedup_vs_one_slot", rate / base, "x")


if __name__ == "__main__":
    main()
