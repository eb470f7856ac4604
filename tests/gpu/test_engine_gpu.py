"""The engine on a CUDA GPU: greedy tokens equal HF transformers' (fp32, same weights) for a tiny random
model of each family, with decode CUDA graphs on and off; and the --shape benchmark's JSON on the GPU.

Run: `pytest tests/gpu -m gpu -q` (skipped without CUDA)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from engine import LLM, SamplingParams  # noqa: E402
from teecube.bench import main as bench_main  # noqa: E402
from tests.engine.tiny_models import FAMILIES, build_tiny_model  # noqa: E402

MAX_TOKENS = 12
PROMPT_LENS = (3, 9, 17, 30, 41)  # 5 sequences: decode batches of 5 pad to the graph of 8


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from transformers import AutoModelForCausalLM

    path = build_tiny_model(request.param, tmp_path_factory.mktemp(request.param))
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to("cuda").eval()
    rng = random.Random(len(request.param))
    prompts = [[rng.randrange(3, 500) for _ in range(n)] for n in PROMPT_LENS]
    refs = []
    with torch.inference_mode():
        for p in prompts:
            ids = torch.tensor([p], device="cuda")
            out = hf.generate(
                ids, do_sample=False, max_new_tokens=MAX_TOKENS, eos_token_id=None, pad_token_id=0
            )
            refs.append(out[0, len(p) :].tolist())
    return {"path": path, "prompts": prompts, "refs": refs}


@pytest.mark.parametrize("enforce_eager", [False, True], ids=["graphs", "eager"])
def test_greedy_matches_hf(family: dict, enforce_eager: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = LLM(
        str(family["path"]),
        device="cuda",
        dtype="float32",
        enforce_eager=enforce_eager,
        max_num_seqs=16,
        num_kv_blocks=64,
    )
    graphs = llm.model_runner.graphs
    assert (graphs is None) == enforce_eager
    replays: list[int] = []
    if graphs is not None:
        run = graphs.run

        def counted(ids: torch.Tensor, pos: torch.Tensor, meta: object) -> torch.Tensor:
            replays.append(ids.shape[0])
            return run(ids, pos, meta)

        monkeypatch.setattr(graphs, "run", counted)
    params = SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True)
    outs = llm.generate(family["prompts"], params, use_tqdm=False)
    assert [o.outputs[0].token_ids for o in outs] == family["refs"]
    if graphs is not None:
        assert replays and set(replays) <= {5}  # every decode step went through the graph of size 8
    # one at a time too: the graph of size 1
    single = llm.generate(family["prompts"][1], params, use_tqdm=False)[0].outputs[0].token_ids
    assert single == family["refs"][1]
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks


def test_shape_bench_on_gpu(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["throughput", "--shape", "tiny", "--random-weights", "--num-prompts", "20"]
    argv += ["--input-len", "10-60", "--output-len", "5-30", "--hf-batch-size", "8", "--profile"]
    argv += ["--gpu-memory-utilization", "0.3"]
    assert bench_main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["engine"]["output_tokens"] == result["output_tokens"]
    assert result["engine"]["cuda_graphs"] is True
    assert result["roofline"]["output_tok_per_s"] > 0 and result["roofline"]["copy_bandwidth_tb_s"] > 0.1
    assert result["hf"]["output_tokens"] == result["output_tokens"]
    assert result["memory"]["peak_allocated_gib"] > 0
    assert result["profile"]["decode_steps"]["ms_per_step"]["gemm"] > 0
    assert result["profile"]["decode_steps"]["ms_per_step"]["attention"] > 0
    (tmp_path / "bench.json").write_text(json.dumps(result))


def test_fused_sampling_on_gpu() -> None:
    from engine.kernels.sampling import sample_tokens

    gen = torch.Generator(device="cuda").manual_seed(0)
    logits = torch.randn(256, 151936, device="cuda", generator=gen).to(torch.bfloat16).float()
    greedy = sample_tokens(logits, torch.zeros(256, device="cuda"), seed=3)
    assert torch.equal(greedy, logits.argmax(dim=-1))
    probs = torch.tensor([0.5, 0.25, 0.15, 0.1, 0.0], device="cuda")
    tempered = (probs.log() * 0.6).repeat(20000, 1)
    drawn = sample_tokens(tempered, torch.full((20000,), 1 / 0.6, device="cuda"), seed=5)
    freq = torch.bincount(drawn, minlength=5).float() / 20000
    assert freq[4] == 0 and torch.allclose(freq, probs, atol=0.015), freq


@pytest.mark.parametrize("rows", [1, 8, 256])
def test_split_sampling_equals_the_one_pass_kernel_on_gpu(rows: int) -> None:
    """The split-vocabulary kernels return the first kernel's tokens (tests/kernels/sampling_reference.py)
    bit for bit at Qwen3's vocabulary, and replay the same from a CUDA graph."""
    from engine.kernels.sampling import sample_tokens
    from tests.kernels.sampling_reference import reference_sample_tokens

    vocab = 151936
    gen = torch.Generator(device="cuda").manual_seed(rows)
    inv = torch.tensor([(0.0, 0.5, 1.0, 1.7, 0.0, 3.0)[r % 6] for r in range(rows)], device="cuda")
    for dtype in (torch.float32, torch.bfloat16):
        logits = (4 * torch.randn(rows, vocab, device="cuda", generator=gen)).to(dtype)
        logits[0, [100000, 8192, 8191, 4096]] = 60.0  # ties across chunk boundaries (greedy row 0)
        if rows > 1:
            logits[rows - 1] = float("-inf")
        for seed in (0, 1, 2**31 - 1):
            out = sample_tokens(logits, inv, seed)
            assert torch.equal(out, reference_sample_tokens(logits, inv, seed)), (dtype, seed)
        greedy = inv == 0
        assert torch.equal(out[greedy], logits.float().argmax(dim=-1)[greedy]) and out[0] == 4096

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        sample_tokens(logits, inv, 7)  # compiled before the capture
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = sample_tokens(logits, inv, 7)
    captured.fill_(-1)
    graph.replay()
    assert torch.equal(captured, reference_sample_tokens(logits, inv, 7))


def test_sampled_and_seeded_requests_on_gpu(family: dict) -> None:
    """Temperature rows take the fused kernel, seeded rows the generic sampler; both in one engine."""
    llm = LLM(str(family["path"]), device="cuda", max_num_seqs=16, num_kv_blocks=64)
    plain = SamplingParams(temperature=0.8, max_tokens=MAX_TOKENS, ignore_eos=True)
    seeded = SamplingParams(temperature=0.8, seed=11, max_tokens=MAX_TOKENS, ignore_eos=True)
    outs = llm.generate(family["prompts"], [plain, seeded, plain, seeded, plain], use_tqdm=False)
    assert all(len(o.outputs[0].token_ids) == MAX_TOKENS for o in outs)
    again = llm.generate([family["prompts"][1]], seeded, use_tqdm=False)[0]
    assert again.outputs[0].token_ids == outs[1].outputs[0].token_ids  # a seed decides its own draw


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_async_loop_on_gpu(family: dict, temperature: float) -> None:
    """The one loop with a step in flight (on by default on CUDA: device-side input ids, fused sampler,
    graphs): greedy equals HF; sampled runs produce every token."""
    llm = LLM(str(family["path"]), device="cuda", dtype="float32", max_num_seqs=16, num_kv_blocks=64)
    assert llm.core.async_scheduling
    params = [SamplingParams(temperature=temperature, max_tokens=MAX_TOKENS, ignore_eos=True)] * 5
    outs = llm.generate(family["prompts"], params, use_tqdm=False)
    tokens = [o.outputs[0].token_ids for o in outs]
    if temperature == 0.0:
        assert tokens == family["refs"]
    assert all(len(t) == MAX_TOKENS and min(t) >= 0 for t in tokens)
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks


def test_async_loop_matches_the_synchronous_loop_on_gpu(family: dict) -> None:
    """Every kind of request (stop strings found a step late, stop ids, min_tokens, n > 1 with seeds,
    logprobs, penalties), under preemption and chunked prefill: the same outputs with and without a
    step in flight; no block left allocated."""
    greedy = SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True)
    ref = LLM(str(family["path"]), device="cuda", dtype="float32", num_kv_blocks=64)
    base = ref.generate(family["prompts"], greedy, use_tqdm=False)
    ids = [o.outputs[0].token_ids for o in base]
    stop_text = next(o.outputs[0].text for o in base if len(o.outputs[0].text) > 6)
    params = [
        SamplingParams(temperature=0, max_tokens=MAX_TOKENS, stop=[stop_text[3:6]], ignore_eos=True),
        SamplingParams(temperature=0, max_tokens=MAX_TOKENS, stop_token_ids=[ids[1][4]], ignore_eos=True),
        SamplingParams(n=3, temperature=0.9, seed=3, max_tokens=MAX_TOKENS, logprobs=2, ignore_eos=True),
        SamplingParams(
            temperature=0.7,
            seed=8,
            max_tokens=MAX_TOKENS,
            repetition_penalty=1.4,
            frequency_penalty=0.3,
            ignore_eos=True,
        ),
        SamplingParams(temperature=0, max_tokens=MAX_TOKENS, min_tokens=4, stop_token_ids=[ids[4][0]]),
    ]
    results = {}
    for overlapped in (False, True):
        llm = LLM(
            str(family["path"]),
            device="cuda",
            dtype="float32",
            num_kv_blocks=9,
            max_num_batched_tokens=24,
            async_scheduling=overlapped,
        )
        outs = llm.generate(family["prompts"], params, use_tqdm=False)
        results[overlapped] = [[(c.token_ids, c.text, c.finish_reason) for c in o.outputs] for o in outs]
        assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks
        assert llm.stats().num_preemptions > 0
    assert results[True] == results[False]


def test_abort_with_a_step_in_flight_on_gpu(family: dict) -> None:
    llm = LLM(str(family["path"]), device="cuda", dtype="float32", num_kv_blocks=64)
    params = SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True)
    llm.add_request("gone", family["prompts"][0], params)
    llm.add_request("kept", family["prompts"][1], params)
    tokens: list[int] = []
    for _ in range(3):
        tokens += [t for out in llm.step() if out.request_id == "kept" for t in out.outputs[0].token_ids]
    assert llm.core.inflight is not None
    llm.abort_request("gone")
    assert not llm.requests["kept"].seqs[0].is_finished
    while llm.has_unfinished():
        for out in llm.step():
            assert out.request_id == "kept"  # the aborted request's token in flight is dropped
            tokens += out.outputs[0].token_ids
    assert tokens == family["refs"][1]
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks


def test_async_engine_streams_on_gpu(family: dict) -> None:
    """The server's path (AsyncEngine: core process or thread with a step in flight, output processor on
    the event loop): streamed deltas, stop strings included, equal the offline outputs; every block is
    free again."""
    import asyncio

    from engine import AsyncEngine, EngineConfig

    llm = LLM(str(family["path"]), device="cuda", dtype="float32", num_kv_blocks=64)
    greedy = SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True)
    text = llm.generate(family["prompts"][2], greedy, use_tqdm=False)[0].outputs[0].text
    params = [greedy] * 4 + [SamplingParams(temperature=0, max_tokens=MAX_TOKENS, stop=[text[4:7]])]
    prompts = [*family["prompts"][:4], family["prompts"][2]]
    expected = llm.generate(prompts, params, use_tqdm=False)

    async def main(mode: str) -> list[list]:
        path = str(family["path"])
        config = EngineConfig(
            model=path, device="cuda", dtype="float32", num_kv_blocks=64, engine_core_process=mode
        )
        engine = AsyncEngine(config)
        await engine.start()
        try:
            assert engine.async_scheduling and (engine.core_pid is not None) == (mode == "on")

            async def collect(i: int, prompt: list[int], p: SamplingParams) -> list:
                return [out async for out in engine.generate(f"r{i}", prompt, p)]

            pairs = enumerate(zip(prompts, params, strict=True))
            streams = await asyncio.gather(*(collect(i, q, p) for i, (q, p) in pairs))
            stats = engine.stats()
            assert stats.free_blocks == stats.total_blocks and stats.num_running == 0
            return streams
        finally:
            await engine.shutdown()

    for mode in ("on", "off"):  # the engine core in its own process (auto on CUDA), and in a thread
        for outs, want in zip(asyncio.run(main(mode)), expected, strict=True):
            assert [t for o in outs for t in o.outputs[0].token_ids] == want.outputs[0].token_ids
            assert "".join(o.outputs[0].text for o in outs) == want.outputs[0].text
            assert outs[-1].finished and outs[-1].outputs[0].finish_reason == want.outputs[0].finish_reason
