"""FP8 (e4m3) weights, activations and KV cache: `--quantization fp8`, FP8 checkpoints and
`--kv-cache-dtype fp8`.

- fp8.py: the number format, quantize / dequantize, per-channel, per-token and per-tensor scales
- support.py: which devices run FP8, and the clear error when one does not
- linear.py: the FP8 GEMM of a linear layer (torch._scaled_mm on CUDA, an fp32 reference elsewhere)
- kernels.py: the Triton per-token activation quantizer (CUDA)
- checkpoint.py: reading HF `quantization_config` (quant_method fp8, compressed-tensors float-quantized)
- model.py: turning a model's linear layers to FP8 (before loading a checkpoint, or online after)
"""
