"""Stop strings on detokenized text (vLLM's rules), for the output processor."""

from __future__ import annotations

from engine.sampling_params import SamplingParams


def stop_buffer_length(params: SamplingParams) -> int:
    """Characters held back from a stream so that a partial stop string is never sent."""
    if not params.stop_strs or params.include_stop_str_in_output:
        return 0
    return max(len(s) for s in params.stop_strs) - 1


def find_stop_string(text: str, new_len: int, params: SamplingParams) -> tuple[str, str] | None:
    """(text cut at the earliest stop string, that string) when the last new_len characters of text
    complete one; None otherwise."""
    best: tuple[int, str] | None = None
    for stop in params.stop_strs:
        idx = text.find(stop, max(0, len(text) - new_len - len(stop) + 1))
        if idx >= 0 and (best is None or idx < best[0]):
            best = (idx, stop)
    if best is None:
        return None
    idx, stop = best
    end = idx + len(stop) if params.include_stop_str_in_output else idx
    return text[:end], stop
