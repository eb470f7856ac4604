"""Where the host time of a grammar step goes (issue #16): the bench structured workload with a schema
on every request, with wall-clock timers around the step loop's pieces (timed runs only, not their
warm-ups), schema and none twice in turn (GRAM_PROFILE_ALL=1 adds the fill inline and xgrammar on every
CPU); prints one JSON object.

  python3 gpu/gram_profile.py [--num-prompts 256] [--output-len 128]     (qwen3-0.6b shape, dummy weights)
  python3 gpu/gram_profile.py --model bundled --num-prompts 4 --output-len 8   (a CPU smoke run)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import xgrammar as xgr

import engine.engine_core as core
import engine.model_runner as mr
import engine.structured.processor as processor
from engine.bench import structured
from engine.bench.throughput import random_workload
from engine.structured.spec import json_schema_spec

TOTALS: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TOTALS[name] += time.perf_counter() - start
            COUNTS[name] += 1

    return wrapper


def main() -> int:
    argv = sys.argv[1:]
    if "--model" not in argv and "--shape" not in argv:
        argv = ["--shape", "qwen3-0.6b", "--random-weights", *argv]
    args = structured.parser().parse_args(argv)
    llm, cache, _ = structured._llm(args)
    factory = cache.factory(json_schema_spec(structured.DEFAULT_SCHEMA, "json_schema"))
    workload = random_workload(
        args.num_prompts, (args.input_len, args.input_len), (1, 1), llm.spec.vocab_size, args.seed
    )
    structured._run(llm, workload.prompts, 8, factory)  # compile kernels before the timers go on
    mr.accept_tokens = timed("accept", mr.accept_tokens)
    mr.fill_rows = timed("fill_on_thread_or_not", mr.fill_rows)
    mr.StepRun.result = timed("result_wait", mr.StepRun.result)
    mr.BitmaskStaging.host = timed("buffer_wait_reset", mr.BitmaskStaging.host)
    mr.ModelRunner._mask_rows = staticmethod(timed("mask_rows_wait_accept", mr.ModelRunner._mask_rows))
    mr.StepRun.complete = timed("complete_join_fill_sample", mr.StepRun.complete)
    mr.ModelRunner.prepare = timed("prepare", mr.ModelRunner.prepare)
    mr.ModelRunner.run_model = timed("run_model_launch", mr.ModelRunner.run_model)
    mr.Sampler.sample = timed("sampler_launch", mr.Sampler.sample)
    core.EngineCore._collect = timed("collect", core.EngineCore._collect)
    core.EngineCore.step = timed("step", core.EngineCore.step)
    import engine.llm_engine as llm_engine
    import engine.output_processor as output_processor

    llm_engine.LLMEngine.step = timed("llm_step", llm_engine.LLMEngine.step)
    llm_engine.LLMEngine.add_request = timed("add_request", llm_engine.LLMEngine.add_request)
    processor_cls = output_processor.OutputProcessor
    processor_cls.process = timed("output_process", processor_cls.process)
    warm_generate = llm.generate

    def generate(*a: Any, **k: Any) -> Any:  # _run's last generate is the timed one: count only it
        TOTALS.clear()
        COUNTS.clear()
        return warm_generate(*a, **k)

    llm.generate = generate
    cpus = len(os.sched_getaffinity(0))
    result: dict[str, Any] = {"cpus": cpus}
    runs = [("json_schema", factory, True, None), ("no_schema", None, True, None)]
    if os.environ.get("GRAM_PROFILE_ALL"):
        runs += [("json_schema_no_fill_thread", factory, False, None)]
        runs += [("json_schema_xgrammar_threads_all_cpus", factory, True, cpus)]
    runs += [("json_schema_again", factory, True, None), ("no_schema_again", None, True, None)]
    for name, f, thread, xgr_threads in runs:
        mr.ModelRunner.fill_on_thread = thread
        processor._batch_matcher = xgr.BatchGrammarMatcher(xgr_threads or "auto")
        run = structured._run(llm, workload.prompts, args.output_len, f)
        steps = max(COUNTS["step"], 1)
        result[name] = {
            **run,
            "steps": COUNTS["step"],
            "ms_per_step": {k: round(v * 1000 / steps, 3) for k, v in sorted(TOTALS.items())},
            # the timed generate's wall time outside LLMEngine.step and add_request (results, tqdm)
            "outside_steps_s": round(run["elapsed_s"] - TOTALS["llm_step"] - TOTALS["add_request"], 4),
            "add_request_s": round(TOTALS["add_request"], 4),
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
