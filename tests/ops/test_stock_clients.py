"""Stock clients talk to the proxy with TLS verification ON, trusting only the certificate
`teecube verify --save-cert` wrote after a TRUSTED verdict: the openai SDK, LangChain and LiteLLM,
each in a fresh interpreter configured the way their users do (SSL_CERT_FILE / verify=)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from demo_process import DemoServer, teecube_cmd


@pytest.fixture(scope="module")
def saved_cert(demo: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cert = tmp_path_factory.mktemp("cert") / "attested.pem"
    p = subprocess.run([*teecube_cmd(), "verify", demo.url, "--trust-simulated-root", str(demo.root),
                        "--save-cert", str(cert)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return cert


def _client(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SSL_", "REQUESTS_CA", "CURL_CA"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=180, env={**clean, **env})


@pytest.mark.slow  # starts the live demo
def test_save_cert_is_refused_for_an_untrusted_server(demo: DemoServer, tmp_path: Path) -> None:
    cert = tmp_path / "nope.pem"
    p = subprocess.run([*teecube_cmd(), "verify", demo.url, "--save-cert", str(cert)],  # no test root
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and not cert.exists()
    assert "not written" in p.stderr


@pytest.mark.slow
def test_openai_sdk_with_ssl_cert_file(demo: DemoServer, saved_cert: Path) -> None:
    p = _client(f"""
        from openai import OpenAI
        c = OpenAI(base_url="{demo.url}/v1", api_key="{demo.key}", max_retries=0)
        r = c.chat.completions.create(model="smollm2", messages=[{{"role": "user", "content": "Hi"}}],
                                      max_tokens=4)
        print("OK", r.usage.completion_tokens)
    """, {"SSL_CERT_FILE": str(saved_cert)})
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stderr[-2000:]


@pytest.mark.slow
def test_openai_sdk_without_the_cert_fails_verification(demo: DemoServer) -> None:
    p = _client(f"""
        import openai
        c = openai.OpenAI(base_url="{demo.url}/v1", api_key="{demo.key}", max_retries=0)
        try:
            c.models.list()
        except openai.APIConnectionError:
            print("REFUSED")
    """, {})
    assert p.stdout.strip() == "REFUSED", p.stderr[-2000:]  # verification really is on


@pytest.mark.slow
def test_langchain_openai_with_verify_context(demo: DemoServer, saved_cert: Path) -> None:
    p = _client(f"""
        import ssl, httpx2
        from langchain_openai import ChatOpenAI
        ctx = ssl.create_default_context(cafile="{saved_cert}")
        llm = ChatOpenAI(base_url="{demo.url}/v1", api_key="{demo.key}", model="smollm2", max_tokens=4,
                         max_retries=0, http_client=httpx2.Client(verify=ctx))
        print("OK", type(llm.invoke("Hi").content).__name__)
    """, {})
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stderr[-2000:]


@pytest.mark.slow
def test_litellm_with_ssl_cert_file(demo: DemoServer, saved_cert: Path) -> None:
    # LiteLLM 1.83's openai provider ignores a per-call ssl_verify=; SSL_CERT_FILE (or SSL_VERIFY,
    # or litellm.ssl_verify) is what it reads.
    p = _client(f"""
        import litellm
        r = litellm.completion(model="openai/smollm2", api_base="{demo.url}/v1", api_key="{demo.key}",
                               messages=[{{"role": "user", "content": "Hi"}}], max_tokens=4)
        print("OK", r.usage.completion_tokens)
    """, {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "SSL_CERT_FILE": str(saved_cert)})
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stderr[-2000:]


@pytest.mark.slow
def test_langchain_on_the_responses_api(demo: DemoServer, saved_cert: Path) -> None:
    """LangChain's `use_responses_api=True` (what its agents use with OpenAI): a call, a stream, a tool
    call and structured output, all through `/v1/responses`."""
    p = _client(f"""
        import ssl, httpx2
        from langchain_openai import ChatOpenAI
        from pydantic import BaseModel
        ctx = ssl.create_default_context(cafile="{saved_cert}")
        def llm(tokens):
            return ChatOpenAI(base_url="{demo.url}/v1", api_key="{demo.key}", model="smollm2",
                              max_tokens=tokens, max_retries=0, http_client=httpx2.Client(verify=ctx),
                              use_responses_api=True)
        said = llm(6).invoke("Hi")
        assert said.usage_metadata["output_tokens"] <= 6 and said.content[0]["text"]
        assert "".join(c.text for c in llm(6).stream("Hi"))
        def get_weather(city: str) -> str:
            \"\"\"Weather for a city.\"\"\"
            return "sunny"
        call = llm(40).bind_tools([get_weather], tool_choice="required").invoke("Weather in Paris?")
        assert call.tool_calls[0]["name"] == "get_weather"
        class Colour(BaseModel):
            name: str
        print("OK", llm(60).with_structured_output(Colour, method="json_schema").invoke("A colour?").name)
    """, {})
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stderr[-2000:]


@pytest.mark.slow
def test_litellm_responses_with_ssl_cert_file(demo: DemoServer, saved_cert: Path) -> None:
    p = _client(f"""
        import litellm
        r = litellm.responses(model="openai/smollm2", api_base="{demo.url}/v1", api_key="{demo.key}",
                              input="Hi", max_output_tokens=4)
        print("OK", r.usage.output_tokens)
    """, {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "SSL_CERT_FILE": str(saved_cert)})
    assert p.returncode == 0 and p.stdout.startswith("OK"), p.stderr[-2000:]


@pytest.mark.slow
def test_tenant_usage_after_a_canary_prompt_holds_counts_not_text(demo: DemoServer, saved_cert: Path) -> None:
    canary = "usage-canary-5519-quokka"
    p = _client(f"""
        import ssl, time, httpx2
        from openai import OpenAI
        http = httpx2.Client(verify=ssl.create_default_context(cafile="{saved_cert}"))
        c = OpenAI(base_url="{demo.url}/v1", api_key="{demo.key}", max_retries=0, http_client=http)

        def usage():
            r = http.get("{demo.url}/v1/usage", headers={{"Authorization": "Bearer {demo.key}"}})
            return r, sum(row["requests"] for row in r.json()["data"])

        before = usage()[1]
        c.chat.completions.create(model="smollm2", messages=[{{"role": "user", "content": "{canary}"}}],
                                  max_tokens=2)
        deadline = time.monotonic() + 20  # usage is written in batches, about once a second
        while (got := usage())[1] == before:
            assert time.monotonic() < deadline, "the request never showed in /v1/usage"
            time.sleep(0.2)
        print(got[0].status_code, got[0].text)
    """, {})
    assert p.returncode == 0, p.stderr[-2000:]
    status, _, body = p.stdout.partition(" ")
    assert status == "200"
    usage = json.loads(body)
    assert usage["domain"] == "demo" and sum(r["requests"] for r in usage["data"]) >= 1
    assert canary not in body
