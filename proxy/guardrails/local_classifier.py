"""The bundled guard model in this process, for `teecube bench guardrails` (not the proxy).

The proxy reaches a guard model over HTTP (classifier.py, an operator deployment); the bench
runs the same prompt on the bundled SmolLM2-135M with our engine in-process, greedy, one token
with its top logprobs, so the second stage's score can be measured on CPU without a server.
"""

from __future__ import annotations

from typing import Any

from proxy.guardrails.classifier import (
    BUNDLED_INJECTION_THRESHOLD,
    INJECTION_PREAMBLE,
    TOP_LOGPROBS,
    Verdict,
    decide,
    verdict_score,
)

BATCH = 16


class LocalClassifier:
    def __init__(
        self,
        llm: Any,
        name: str,
        preamble: tuple[tuple[str, str], ...] = INJECTION_PREAMBLE,
        threshold: float = BUNDLED_INJECTION_THRESHOLD,
    ) -> None:
        from engine.sampling_params import SamplingParams

        self.llm, self.name, self.threshold = llm, name, threshold
        self.preamble = [{"role": role, "content": content} for role, content in preamble]
        self.params = SamplingParams(temperature=0.0, max_tokens=1, logprobs=TOP_LOGPROBS)

    @classmethod
    def bundled(cls, threshold: float = BUNDLED_INJECTION_THRESHOLD) -> LocalClassifier:
        from engine.cli import BUNDLED_NAME, bundled_model_path
        from engine.llm import LLM

        llm = LLM(str(bundled_model_path()), max_model_len=2048, max_num_seqs=BATCH)
        return cls(llm, BUNDLED_NAME, threshold=threshold)

    def score(self, text: str) -> float | None:
        """p(unsafe) for one user message (None: the answer is no verdict); one request."""
        return self.scores([text])[0]

    def scores(self, texts: list[str]) -> list[float | None]:
        """p(unsafe) for each text, as one batch (for quality figures; latency is measured per request)."""
        conversations = [[*self.preamble, {"role": "user", "content": text[-4000:]}] for text in texts]
        decode = self.llm.tokenizer.decode
        out = []
        for result in self.llm.chat(conversations, self.params, use_tqdm=False):
            logprobs = result.outputs[0].logprobs or ()
            out.append(verdict_score([[(decode([i]), v) for i, v in lp["top"]] for lp in logprobs]))
        return out

    def classify(self, text: str) -> Verdict:
        """The verdict at this classifier's threshold; no score counts as unsafe (what a policy with
        fail_mode "closed" does with an answer that is no verdict)."""
        score = self.score(text)
        return Verdict(False, ("unparsed",)) if score is None else decide("", score, self.threshold)
