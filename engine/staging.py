"""Host-to-device staging: pack several small numpy arrays into one pinned buffer, copy once, non-blocking.

A step's inputs (token ids, positions, slots, ...) then cost one host-to-device copy per dtype instead of
one synchronous copy per array. Before the pinned buffer is overwritten, the previous copy out of it is
waited for (one CUDA event), so a step never races the copy of the step before it.
"""

from __future__ import annotations

import numpy as np
import torch

NUMPY_DTYPES = {torch.int64: np.int64, torch.int32: np.int32}


class StagingBuffer:
    def __init__(self, dtype: torch.dtype, device: torch.device | str) -> None:
        self.dtype = dtype
        self.np_dtype = NUMPY_DTYPES[dtype]
        self.device = torch.device(device)
        self.pinned = self.device.type == "cuda"
        self.host = torch.empty(1024, dtype=dtype, pin_memory=self.pinned)
        self.copied = torch.cuda.Event() if self.pinned else None
        self.has_copy = False

    def to_device(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        """Device tensors with the arrays' shapes and values (in this buffer's dtype). Each one starts at a
        16-byte boundary, so Triton sees the same pointer alignment every step (no re-specialisation)."""
        align = 16 // self.host.element_size()
        sizes = [int(a.size) for a in arrays]
        starts = np.cumsum([0, *(-(-n // align) * align for n in sizes)])
        total = int(starts[-1])
        if self.copied is not None and self.has_copy:
            self.copied.synchronize()
        if total > self.host.numel():
            size = max(total, 2 * self.host.numel())
            self.host = torch.empty(size, dtype=self.dtype, pin_memory=self.pinned)
        flat = self.host[:total]
        host = flat.numpy()
        for a, start, n in zip(arrays, starts, sizes, strict=False):
            host[start : start + n] = np.asarray(a).ravel()
        if self.copied is not None:
            dev = flat.to(self.device, non_blocking=True)
            self.copied.record()
            self.has_copy = True
        else:
            dev = flat.clone()
        return [dev[s : s + n].view(a.shape) for a, s, n in zip(arrays, starts, sizes, strict=False)]
