"""Allocates the paged KV cache, turns a scheduled batch into model inputs, runs the model and samples
(queued on the device: `launch` returns before the GPU is done)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine import prompt_logprobs
from engine.attention_metadata import AttentionMetadata, longest_first
from engine.config import EngineConfig
from engine.cuda_graphs import DecodeGraphs
from engine.distributed import all_reduce_min, broadcast_object, get_tp_size
from engine.fast_sampling import is_plain
from engine.host_block_tables import HostBlockTables, pad_block_tables
from engine.kv_cache_spec import kv_block_bytes, kv_cache_dtype
from engine.kv_layout import allocate_kv_cache
from engine.layers.linear import prepare_split_k
from engine.loader import LoadedModel, load_model
from engine.logits_process import accept_tokens, bitmask_words, fill_rows
from engine.pooling.pooler import PoolingConfig
from engine.pooling.runner import PoolRun, pool_step
from engine.prefill_buckets import PREFILL_PAD, bucket_sizes, pad_step, padded_count, warm_linears
from engine.sampler import SampledTokens, Sampler, has_penalties, to_device
from engine.scheduler import SchedulerOutput
from engine.sequence import Sequence
from engine.staging import StagingBuffer


@dataclass(slots=True)
class ModelInput:
    input_ids: torch.Tensor
    positions: torch.Tensor
    meta: AttentionMetadata
    sample_indices: torch.Tensor
    sample_seqs: list[Sequence]
    # per sampled row: its token still in flight (-1: none), for penalties
    pending: torch.Tensor | None = None
    # the prompt positions this step computes logprobs for (engine/prompt_logprobs.py)
    prompt_slices: list[prompt_logprobs.PromptSlice] | None = None


class StepRun:
    """A launched step's samples: on the device for the next step's inputs, and on their way to the host
    (CUDA: pinned buffers, copied right after the sampler, so waiting for them does not wait for the
    step queued after this one)."""

    def __init__(
        self,
        seqs: list[Sequence],
        sampled: SampledTokens | None = None,
        sample: Callable[[], SampledTokens] | None = None,
        filled: Future[None] | None = None,
    ) -> None:
        """sampled: the queued sampler's tokens; or sample: a sampler still to queue (`complete`), once
        filled (the masks' fill on a thread) is done."""
        self.seqs = seqs
        self.row_of = {s.seq_id: i for i, s in enumerate(seqs)}
        self._sample = sample
        self._filled = filled
        self._result: tuple[list[int], list[dict[str, Any] | None]] | None = None
        self._accepted: list[tuple[bool, bool] | None] | None = None
        if sampled is not None:
            self._queue_copy(sampled)

    def ready(self) -> bool:
        """Whether complete() would not wait (nothing deferred, or the fill it waits for is done)."""
        return self._sample is None or self._filled is None or self._filled.done()

    def complete(self) -> None:
        """Queue the sampler of a step whose grammar masks were being filled on a thread (no-op when
        it is queued already): the next step's launch, or this step's result, calls it."""
        if self._sample is not None:
            sample, self._sample = self._sample, None
            self._queue_copy(sample())

    def _queue_copy(self, sampled: SampledTokens) -> None:
        self.tokens = sampled.token_ids
        self.num_logprobs = sampled.num_logprobs
        tensors = sampled.host_tensors()
        self.copied: torch.cuda.Event | None = None
        if self.tokens.is_cuda:
            host = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in tensors]
            for h, t in zip(host, tensors, strict=True):
                h.copy_(t, non_blocking=True)
            self.copied = torch.cuda.Event()
            self.copied.record()
            tensors = host
        self.host = tensors

    def result(self) -> tuple[list[int], list[dict[str, Any] | None]]:
        """Token ids and logprob entries per row: the step's one wait for the device (read once)."""
        if self._result is None:
            self.complete()
            if self.copied is not None:
                self.copied.synchronize()
            self._result = SampledTokens.to_lists([t.tolist() for t in self.host], self.num_logprobs)
        return self._result

    def accept_processors(self) -> list[tuple[bool, bool] | None]:
        """Each row's token handed to its sequence's logits processor, once: per row (accepted,
        terminated), None for rows without a processor or whose sequence already finished. Called by the
        next step's launch (its masks need these tokens) or by the collect, whichever comes first."""
        if self._accepted is None:
            tokens, _ = self.result()
            seqs = self.seqs
            rows = [
                i for i, s in enumerate(seqs) if s.logits_processor is not None and s.finish_reason is None
            ]
            done = accept_tokens([seqs[i].logits_processor for i in rows], [tokens[i] for i in rows])
            self._accepted = [None] * len(self.seqs)
            for i, d in zip(rows, done, strict=True):
                self._accepted[i] = d
        return self._accepted


# Decode batches on a GPU carry their rows longest context first (AttentionMetadata.decode_order), so
# the attention kernels start the longest programs first; TEECUBE_DECODE_ORDER=0 keeps row order (A/B).
DECODE_ORDER = os.environ.get("TEECUBE_DECODE_ORDER", "1") != "0"
# Run the LM head once at every row count a step can sample (1..max_num_seqs) at start-up, on CUDA: at ~21
# of the row counts a run meets, cuBLAS's first call waited for the GPU to drain (5-10 ms of host time
# mid-run on an H200; qwen3-0.6b +1.2 % with this, docs/bench/h200-2026-12-04-session12/).
# TEECUBE_WARM_LM_HEAD=0: not (the A/B switch).
WARM_LM_HEAD = os.environ.get("TEECUBE_WARM_LM_HEAD", "1") != "0"
FILL_START_WAIT_S = 0.005  # Python's GIL switch interval: a fill thread waiting longer would force a switch


def _fill_rows(
    processors: list[Any],
    bitmask: torch.Tensor,
    rows: list[int],
    started: threading.Event | None = None,
    skip_and: bool = False,
) -> None:
    if started is not None:
        started.set()
    with torch.inference_mode():  # the buffer is an inference tensor (made in launch)
        fill_rows(processors, bitmask, rows, skip_and)


class BitmaskStaging:
    """Pinned host buffers the processors fill, two in turn: a buffer is refilled only after the event
    recorded behind its last asynchronous copy to the device has passed."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.buffers: list[torch.Tensor | None] = [None, None]
        self.copied: list[torch.cuda.Event | None] = [None, None]
        self.stream: torch.cuda.Stream | None = None
        self.turn = 0

    def host(self, rows: int, words: int, filled: list[int] | None = None) -> torch.Tensor:
        """A [rows, words] int32 host bitmask to fill: all ones (every token allowed), except the rows
        in `filled` (distinct), which the processors overwrite whole and are left as they are."""
        if (event := self.copied[self.turn]) is not None:
            event.synchronize()
        buf = self.buffers[self.turn]
        if buf is None or buf.shape[0] < rows or buf.shape[1] != words:
            pin = self.device.type == "cuda"
            buf = torch.empty((max(rows, 64), words), dtype=torch.int32, pin_memory=pin)
            self.buffers[self.turn] = buf
        view = buf[:rows]
        if not filled:
            view.fill_(-1)
        elif len(filled) < rows:
            others = torch.ones(rows, dtype=torch.bool)
            others[filled] = False
            view[others] = -1
        return view

    def to_device(self, host: torch.Tensor) -> torch.Tensor:
        """The filled buffer on the device; the turn passes. CUDA: copied on a stream of its own, so the
        copy (4.9 MB at batch 256 over a 152k vocabulary) overlaps the forward still running instead of
        queuing behind it; the compute stream waits for its event before the sampler reads it."""
        if self.device.type == "cuda":
            compute = torch.cuda.current_stream(self.device)
            if self.stream is None:
                self.stream = torch.cuda.Stream(self.device)
            with torch.cuda.stream(self.stream):
                out = host.to(self.device, non_blocking=True)
                event = torch.cuda.Event()
                event.record(self.stream)
            compute.wait_event(event)
            out.record_stream(compute)  # allocated on the copy stream, read on the compute stream
            self.copied[self.turn] = event
        else:
            out = host.clone()
        self.turn ^= 1
        return out


@dataclass(slots=True)
class StepInput:
    """One step's batch as lists and host arrays: what `_build` needs, and what rank 0 broadcasts to the
    tensor-parallel workers (engine/distributed/workers.py)."""

    query_lens: list[int]
    starts: list[int]
    seq_lens: list[int]
    tables: np.ndarray  # int32 [S, width]: block tables padded with 0 (engine/host_block_tables.py)
    token_ids: np.ndarray  # int64 [T]; a token still in flight is 0 here (read on the device)
    sample_indices: np.ndarray


class ModelRunner:
    fill_on_thread = True  # with defer: grammar masks filled on a thread while the step before is collected

    def __init__(self, config: EngineConfig, loaded: LoadedModel | None = None) -> None:
        self.config = config
        self.device = torch.device(config.device)
        self._stage64 = StagingBuffer(torch.int64, self.device)
        self._stage32 = StagingBuffer(torch.int32, self.device)
        self._tables = HostBlockTables(2 * config.max_num_seqs)
        # a pooling runner (--task embed) serves embeddings only: no sampling, no decode graphs
        self.pooling = PoolingConfig.from_model_dir(config.model) if config.task == "embed" else None
        if self.pooling is not None and config.pooling_type is not None:
            self.pooling = replace(self.pooling, pooling_type=config.pooling_type)
        if loaded is None and self.pooling is not None and Path(config.model).is_dir():
            from engine.pooling.loader import load_embedding_model

            loaded = load_embedding_model(config)  # a GGUF file (a generative model's) loads as usual
        loaded = loaded or load_model(config)
        self.model, self.spec, self.tokenizer = loaded.model, loaded.spec, loaded.tokenizer
        self.block_size = config.block_size
        self.tp_size = get_tp_size()
        self.num_kv_heads = self.spec.num_kv_heads // self.tp_size  # this rank's share of the KV heads
        self.max_model_len = min(config.max_model_len or self.spec.max_position, self.spec.max_position)
        self.kv_dtype = kv_cache_dtype(config.kv_cache_dtype, self.spec.dtype)  # FP8 or the model dtype
        # eager steps padded to a multiple of this many tokens, each size warmed (engine/prefill_buckets.py)
        on_gpu_lm = self.device.type == "cuda" and self.pooling is None
        self.prefill_pad = PREFILL_PAD if on_gpu_lm else 1
        self.num_blocks = self._num_kv_blocks()
        # [2, blocks, block_size, kv_heads, head_dim] as seen, stored as engine/kv_layout.py says
        cache_shape = (self.num_blocks, self.block_size, self.num_kv_heads, self.spec.head_dim)
        self.kv_caches = [
            allocate_kv_cache(*cache_shape, self.kv_dtype, self.device) for _ in range(self.spec.num_layers)
        ]
        self.max_model_len = min(self.max_model_len, self.num_blocks * self.block_size)
        self.sampler = Sampler(self.spec.eos_token_ids, config.seed, self.device)
        self.bitmasks = BitmaskStaging(self.device)
        self._and_masks: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id -> (host, device copy)
        self._filler: ThreadPoolExecutor | None = None
        prepare_split_k(self.device)  # on a GPU: the skinny GEMMs' split-K counters, outside graph capture
        use_graphs = self.device.type == "cuda" and not config.enforce_eager and self.pooling is None
        self.graphs = self._capture_graphs() if use_graphs else None
        if on_gpu_lm and WARM_LM_HEAD:
            self._warm_lm_head()
        if self.prefill_pad > 1:
            self._warm_prefill_sizes()

    @torch.inference_mode()
    def _warm_lm_head(self) -> None:
        """The LM head over 1..max_num_seqs rows of zeros, once each (every rank: it may gather)."""
        rows = self.config.max_num_seqs
        hidden = torch.zeros(rows, self.spec.hidden_size, dtype=self.spec.dtype, device=self.device)
        for n in range(1, rows + 1):
            self.model.compute_logits(hidden[:n])
        if self.device.type == "cuda":  # (a CPU runner in the tests)
            torch.cuda.synchronize(self.device)

    def _warm_prefill_sizes(self) -> None:
        """Every linear layer once at each padded eager-step size (every rank, the same calls)."""
        sizes = bucket_sizes(self.config.max_num_batched_tokens or 1, self.prefill_pad)
        warm_linears(self.model, sizes, self.spec.dtype, self.device)
        torch.cuda.synchronize(self.device)

    def _capture_graphs(self) -> DecodeGraphs:
        """Decode CUDA graphs over the batch-size ladder (engine/cuda_graphs.py); LM head outside."""
        max_blocks = -(-self.max_model_len // (16 * self.block_size)) * 16  # as _build pads block tables
        spec = self.spec
        graphs = DecodeGraphs(
            self.config.max_num_seqs, max_blocks, spec.hidden_size, spec.dtype, self.device, self.block_size,
            ordered=DECODE_ORDER,
        )
        graphs.capture(lambda ids, pos, meta: self.model(ids, pos, self.kv_caches, meta))
        return graphs

    @property
    def block_bytes(self) -> int:
        s = self.spec
        return kv_block_bytes(s.num_layers, self.num_kv_heads, s.head_dim, self.block_size, self.kv_dtype)

    def _num_kv_blocks(self) -> int:
        cfg = self.config
        if cfg.num_kv_blocks is not None:
            return cfg.num_kv_blocks
        blocks_per_seq = -(-self.max_model_len // self.block_size)
        if self.device.type == "cuda":
            peak = self._profile_run()
            free, total = torch.cuda.mem_get_info(self.device)
            current = torch.cuda.memory_allocated(self.device)
            budget = total * cfg.gpu_memory_utilization - (total - free) - peak + current
            num = int(budget // self.block_bytes)
        else:
            num = int(cfg.cpu_kv_cache_space_gb * 2**30 // self.block_bytes)
        num = all_reduce_min(min(num, blocks_per_seq * cfg.max_num_seqs + 1))  # every rank holds num
        if num < 1:
            raise MemoryError("no memory left for the KV cache; lower max_model_len or raise the budget")
        return num

    @torch.inference_mode()
    def _profile_run(self) -> int:
        """Peak activation bytes of a max-size prefill, run against a throwaway KV cache."""
        cfg = self.config
        num_tokens = min(cfg.max_num_batched_tokens or 1, self.max_model_len * cfg.max_num_seqs)
        seq_len = min(self.max_model_len, num_tokens)
        lens = [seq_len] * (num_tokens // seq_len) + ([num_tokens % seq_len] if num_tokens % seq_len else [])
        blocks = [-(-n // self.block_size) for n in lens]
        shape = (2, sum(blocks), self.block_size, self.num_kv_heads, self.spec.head_dim)
        caches = [
            torch.zeros(shape, dtype=self.kv_dtype, device=self.device) for _ in range(self.spec.num_layers)
        ]
        starts = np.cumsum([0, *blocks])
        tables = pad_block_tables([list(range(starts[i], starts[i + 1])) for i in range(len(lens))])
        torch.cuda.reset_peak_memory_stats(self.device)
        inp = self._build(lens, [0] * len(lens), lens, tables, np.zeros(num_tokens, dtype=np.int64))
        hidden = self.model(inp[0], inp[1], caches, inp[2])
        self.model.compute_logits(hidden[-len(lens) :])
        torch.cuda.synchronize(self.device)
        peak = torch.cuda.max_memory_allocated(self.device)
        del caches, hidden
        torch.cuda.empty_cache()
        return peak

    def _build(
        self,
        query_lens: list[int],
        starts: list[int],
        seq_lens: list[int],
        tables: np.ndarray,
        token_ids: np.ndarray,
        sample_indices: np.ndarray | None = None,
        extra: tuple[np.ndarray, ...] = (),
    ) -> tuple[torch.Tensor, torch.Tensor, AttentionMetadata, torch.Tensor | None, list[torch.Tensor]]:
        """Model inputs from per-sequence lists and host arrays: numpy on the host (no per-token Python
        loop), then one pinned, non-blocking copy per dtype (engine/staging.py). tables: int32 [S, width]
        padded block tables; extra: more int64 arrays to stage."""
        bs = self.block_size
        q = np.asarray(query_lens, dtype=np.int64)
        cu = np.zeros(len(q) + 1, dtype=np.int64)
        np.cumsum(q, out=cu[1:])
        positions = np.arange(cu[-1]) - np.repeat(cu[:-1] - np.asarray(starts, dtype=np.int64), q)
        blocks = tables[np.repeat(np.arange(len(q)), q), positions // bs].astype(np.int64)
        slots = blocks * bs + positions % bs
        max_query_len = int(q.max())
        if self.prefill_pad > 1 and max_query_len > 1:  # an eager step: a warmed size (prefill_buckets.py)
            token_ids, positions, slots = pad_step(
                token_ids, positions, slots, padded_count(int(cu[-1]), self.prefill_pad)
            )
        picked = np.zeros(0, dtype=np.int64) if sample_indices is None else sample_indices
        input_ids, positions_d, slots_d, picked_d, *extra_d = self._stage64.to_device(
            token_ids, positions, slots, picked, *extra
        )
        lens = np.asarray(seq_lens)
        if max_query_len == 1 and DECODE_ORDER and self.device.type == "cuda":
            cu_d, seq_lens_d, bt_d, order_d = self._stage32.to_device(cu, lens, tables, longest_first(lens))
        else:
            (cu_d, seq_lens_d, bt_d), order_d = self._stage32.to_device(cu, lens, tables), None
        meta = AttentionMetadata(
            query_start_loc=cu_d,
            seq_lens=seq_lens_d,
            slot_mapping=slots_d,
            block_tables=bt_d,
            max_query_len=max_query_len,
            max_seq_len=max(seq_lens),
            decode_order=order_d,
        )
        return input_ids, positions_d, meta, (picked_d if sample_indices is not None else None), extra_d

    def prepare(self, sched: SchedulerOutput, prev: StepRun | None = None) -> ModelInput:
        """The step's model inputs. A sequence whose last token is still in flight (sampled by prev, the
        step before, whose tokens have not reached the host) reads it from prev's tokens on the device."""
        seqs, nums = sched.seqs, sched.num_scheduled_tokens
        starts = [s.num_computed_tokens for s in seqs]
        seq_lens = [a + n for a, n in zip(starts, nums, strict=True)]
        token_ids = np.zeros(sum(nums), dtype=np.int64)
        one_at: list[int] = []  # single known tokens (decode without a token in flight): set at once
        one_id: list[int] = []
        dst: list[int] = []  # flat positions of in-flight tokens
        src: list[int] = []  # their rows in prev
        picked: list[int] = []  # rows that sample
        ends: list[int] = []  # their last flat positions
        slices: list[prompt_logprobs.PromptSlice] = []
        off = 0
        for i, (s, a, n) in enumerate(zip(seqs, starts, nums, strict=True)):
            if s.params.prompt_logprobs is not None and prompt_logprobs.wants(s):
                if (planned := prompt_logprobs.plan(s, a, n, off)) is not None:
                    slices.append(planned)
            known = len(s.token_ids)
            k = min(known, a + n) - a if known > a else 0  # scheduled tokens already on the host
            if k == 1:
                one_at.append(off)
                one_id.append(s.token_ids[a])
            elif k > 1:
                token_ids[off : off + k] = s.token_array(a, a + k)
            if k < n:
                if prev is None or n - k != 1:
                    raise RuntimeError("a scheduled token is neither known nor the previous step's sample")
                dst.append(off + k)
                src.append(prev.row_of[s.seq_id])
            off += n
            if a + n == known + s.num_inflight:
                picked.append(i)
                ends.append(off - 1)
        if one_at:
            token_ids[one_at] = one_id
        tables = self._tables.gather(seqs)
        step = StepInput(nums, starts, seq_lens, tables, token_ids, np.asarray(ends, dtype=np.int64))
        if self.tp_size > 1:
            if dst:
                raise RuntimeError("tensor-parallel steps take no tokens in flight")
            broadcast_object(step)  # the workers build the same inputs (follow)
        sample_seqs = [seqs[i] for i in picked]
        if not dst:
            inp = self._input(step, sample_seqs)
            inp.prompt_slices = slices or None
            return inp
        extra = (np.asarray(dst, dtype=np.int64), np.asarray(src, dtype=np.int64))
        input_ids, positions, meta, sample_indices, (dst_d, src_d) = self._build(
            step.query_lens,
            step.starts,
            step.seq_lens,
            step.tables,
            step.token_ids,
            step.sample_indices,
            extra,
        )
        assert prev is not None
        prev.complete()  # its sampler, if deferred, goes in only now: this step's inputs were built meanwhile
        input_ids[dst_d] = prev.tokens[src_d]
        pending = None
        if any(map(has_penalties, sample_seqs)):  # penalties count the token in flight too
            pending = torch.where(
                torch.isin(sample_indices, dst_d),
                input_ids[sample_indices],
                torch.full_like(sample_indices, -1),
            )
        return ModelInput(input_ids, positions, meta, sample_indices, sample_seqs, pending, slices or None)

    def _input(self, step: StepInput, sample_seqs: list[Sequence]) -> ModelInput:
        input_ids, positions, meta, sample_indices, _ = self._build(
            step.query_lens, step.starts, step.seq_lens, step.tables, step.token_ids, step.sample_indices
        )
        return ModelInput(input_ids, positions, meta, sample_indices, sample_seqs)

    @torch.inference_mode()
    def launch(
        self, sched: SchedulerOutput, prev: StepRun | None = None, defer: bool = False
    ) -> StepRun | None:
        """Queue one step: inputs, model, sampler, and the copy of the sampled tokens to the host. Nothing
        waits for the GPU; `StepRun.result()` does. Rows with a logits processor whose token from prev is
        still in flight: once the forward is queued, prev's tokens are read and accepted, then the masks
        are filled while the GPU runs it. defer (the engine core collects prev next): when every row takes
        the fast sampler, the fill runs on a thread and `StepRun.complete()` queues the sampler: the next
        launch does so at once if the fill is done, else after building its inputs on the host, so that
        work overlaps the fill instead of the GPU's wait between the sampler and the next forward.
        None when the step samples nothing."""
        if prev is not None and prev.ready():
            prev.complete()  # its masks are filled: its sampler goes in at once
        inp = self.prepare(sched, prev)  # else it queues it after the host work, before reading its tokens
        if prev is not None:
            prev.complete()  # (no-op when prepare did): prev's sampler runs before this forward
        logits = self.run_model(inp)
        if logits is None:
            return None
        seqs = inp.sample_seqs
        rows = [i for i, s in enumerate(seqs) if s.logits_processor is not None]
        if not rows:
            return StepRun(seqs, self.sampler.sample(logits, seqs, inp.pending))
        # the sampler reads no sequence state: the fill may run on a thread (decided before prev's tokens
        # are waited for, like everything that does not need them)
        threaded = defer and self.fill_on_thread and all(map(is_plain, seqs))
        rows = self._mask_rows(seqs, rows, prev)
        whole = [i for i in rows if getattr(seqs[i].logits_processor, "fills_whole_rows", False)]
        host = self.bitmasks.host(len(seqs), bitmask_words(logits.shape[1]), whole)
        procs = [seqs[i].logits_processor for i in rows]
        and_mask = self._and_mask(procs, rows, len(seqs))  # ANDed in the mask kernel, not by the fill
        skip_and = and_mask is not None
        if threaded:
            if self._filler is None:
                self._filler = ThreadPoolExecutor(1, thread_name_prefix="grammar-fill")
            started = threading.Event()
            filled = self._filler.submit(_fill_rows, procs, host, rows, started, skip_and)
            # hand the fill thread the GIL until xgrammar's fill releases it: this thread's collect and
            # schedule are pure Python, which releases it to no one (the fill would start at the join, or
            # after Python's 5 ms switch interval)
            started.wait(FILL_START_WAIT_S)

            def sample() -> SampledTokens:
                filled.result()
                with torch.inference_mode():
                    bitmask = self.bitmasks.to_device(host)
                    return self.sampler.sample(logits, seqs, inp.pending, bitmask, and_mask)

            return StepRun(seqs, sample=sample, filled=filled)
        fill_rows(procs, host, rows, skip_and)
        bitmask = self.bitmasks.to_device(host)
        return StepRun(seqs, self.sampler.sample(logits, seqs, inp.pending, bitmask, and_mask))

    def _and_mask(
        self, procs: list[Any], rows: list[int], num_rows: int
    ) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """The processors' one AND mask on the device, and the rows it applies to (None: every row), for
        the mask kernel; None (the fill applies them on the host) when they have none or several. The
        host AND was a 4.9 MB pass per step at batch 256 over a 152k vocabulary, on the fill's critical
        path, and its Python tail waited for the GIL behind the step loop."""
        mask = None
        flagged: list[int] = []  # the rows it applies to
        for r, p in zip(rows, procs, strict=True):
            m = getattr(p, "and_mask", None)
            if m is None:
                continue
            if mask is None:
                mask = m
            elif m is not mask:
                return None
            flagged.append(r)
        if mask is None:
            return None
        cached = self._and_masks.get(id(mask))
        if cached is None or cached[0] is not mask:
            if len(self._and_masks) >= 8:  # one per tokenizer in practice
                self._and_masks.clear()
            cached = self._and_masks[id(mask)] = (mask, mask.to(self.device))
        if len(flagged) == num_rows:
            return cached[1], None
        flags = np.zeros(num_rows, dtype=np.int8)
        flags[flagged] = 1
        return cached[1], to_device(flags, torch.int8, self.device)

    @torch.inference_mode()
    def launch_pooling(self, sched: SchedulerOutput) -> PoolRun | None:
        """Queue one pooling step: the forward over the scheduled prompt chunks, then pooling on the
        device; None when no sequence's prompt completes in this step."""
        assert self.pooling is not None
        starts = [s.num_computed_tokens for s in sched.seqs]
        inp = self.prepare(sched)
        hidden = self.model(inp.input_ids, inp.positions, self.kv_caches, inp.meta)
        nums = sched.num_scheduled_tokens
        seqs, vectors = pool_step(hidden, inp.meta, sched.seqs, nums, starts, self.pooling)
        return PoolRun(seqs, vectors) if vectors is not None else None

    @staticmethod
    def _mask_rows(seqs: list[Sequence], rows: list[int], prev: StepRun | None) -> list[int]:
        """The rows whose processor fills a mask. A row whose token from prev is in flight first has
        prev's tokens accepted; one whose processor then ended or refused that token keeps an all-ones
        mask (its sequence stops and this sample is dropped)."""
        if prev is None or not any(seqs[i].num_inflight for i in rows):
            return rows
        accepted = prev.accept_processors()
        ended = {prev.seqs[j].seq_id for j, a in enumerate(accepted) if a not in (None, (True, False))}
        return [i for i in rows if seqs[i].seq_id not in ended]

    @torch.inference_mode()
    def follow(self) -> None:
        """Tensor-parallel ranks > 0: run each step rank 0 broadcasts, until it broadcasts None."""
        while (step := broadcast_object()) is not None:
            self.run_model(self._input(step, []))

    def run_model(self, inp: ModelInput) -> torch.Tensor | None:
        """Forward and LM head (every rank runs the same calls); the logits of the sampled rows on rank 0,
        None on the other ranks or when no row is sampled."""
        meta = inp.meta
        num_sampled = inp.sample_indices.shape[0]
        if num_sampled == 0:
            hidden = self.model(inp.input_ids, inp.positions, self.kv_caches, meta)
            if inp.prompt_slices:
                prompt_logprobs.compute(inp.prompt_slices, hidden, self.model.compute_logits)
            return None
        decode = meta.max_query_len == 1 and num_sampled == meta.num_seqs
        graphs = self.graphs
        if decode and graphs is not None and graphs.can_run(meta.num_seqs, meta.block_tables.shape[1]):
            return self.model.compute_logits(graphs.run(inp.input_ids, inp.positions, meta))
        hidden = self.model(inp.input_ids, inp.positions, self.kv_caches, meta)
        if inp.prompt_slices:
            prompt_logprobs.compute(inp.prompt_slices, hidden, self.model.compute_logits)
        return self.model.compute_logits(hidden if decode else hidden[inp.sample_indices])
