"""The bundled guard model in this process, for `teecube bench guardrails` (not the proxy).

The proxy reaches a guard model over HTTP (classifier.py, an operator deployment); the bench
runs the same prompt on the bundled SmolLM2-135M with our engine in-process, greedy, so the
second stage can be measured on CPU without a server.
"""

from __future__ import annotations

from typing import Any

from proxy.guardrails.classifier import INJECTION_PREAMBLE, Verdict, parse_verdict


class LocalClassifier:
    def __init__(self, llm: Any, name: str,
                 preamble: tuple[tuple[str, str], ...] = INJECTION_PREAMBLE) -> None:
        from engine.sampling_params import SamplingParams

        self.llm, self.name = llm, name
        self.preamble = [{"role": role, "content": content} for role, content in preamble]
        self.params = SamplingParams(temperature=0.0, max_tokens=4)

    @classmethod
    def bundled(cls) -> LocalClassifier:
        from engine.cli import BUNDLED_NAME, bundled_model_path
        from engine.llm import LLM

        return cls(LLM(str(bundled_model_path()), max_model_len=2048, max_num_seqs=4), BUNDLED_NAME)

    def classify(self, text: str) -> Verdict:
        """The verdict for one user message; an answer that is no verdict counts as unsafe
        (what a policy with fail_mode "closed" does with it)."""
        messages = [*self.preamble, {"role": "user", "content": text[-4000:]}]
        out = self.llm.chat(messages, self.params, use_tqdm=False)[0]
        try:
            return parse_verdict(out.outputs[0].text if hasattr(out, "outputs") else out.text)
        except Exception:
            return Verdict(False, ("unparsed",))
