"""Detokenize a new token and decide whether its sequence stops (vLLM's rules)."""

from __future__ import annotations

from engine.sequence import Sequence


def stop_buffer_length(seq: Sequence) -> int:
    """Characters held back from a stream so that a partial stop string is never sent."""
    p = seq.params
    if not p.stop_strs or p.include_stop_str_in_output:
        return 0
    return max(len(s) for s in p.stop_strs) - 1


def append_token(seq: Sequence, token_id: int, eos_token_ids: list[int], max_model_len: int) -> None:
    """Append token_id and its text to seq; set finish_reason when seq must stop."""
    seq.token_ids.append(token_id)
    new_text = seq.detokenizer.step(token_id) if seq.detokenizer is not None else ""
    seq.text += new_text
    p = seq.params
    if seq.num_output_tokens >= p.min_tokens:
        if not p.ignore_eos and token_id in eos_token_ids:
            return _finish(seq, "stop", None)
        if token_id in p.stop_token_ids:
            return _finish(seq, "stop", token_id)
        if p.stop_strs and new_text and _check_stop_strings(seq, len(new_text)):
            return None
    if seq.num_output_tokens >= (p.max_tokens or max_model_len) or seq.num_tokens >= max_model_len:
        return _finish(seq, "length", None)
    return None


def _check_stop_strings(seq: Sequence, new_len: int) -> bool:
    text = seq.text
    best: tuple[int, str] | None = None
    for stop in seq.params.stop_strs:
        idx = text.find(stop, max(0, len(text) - new_len - len(stop) + 1))
        if idx >= 0 and (best is None or idx < best[0]):
            best = (idx, stop)
    if best is None:
        return False
    idx, stop = best
    seq.text = text[: idx + len(stop)] if seq.params.include_stop_str_in_output else text[:idx]
    _finish(seq, "stop", stop)
    return True


def _finish(seq: Sequence, reason: str, stop_reason: int | str | None) -> None:
    seq.finish_reason = reason
    seq.stop_reason = stop_reason
