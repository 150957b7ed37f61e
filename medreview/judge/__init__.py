"""The LLM judge: grade the physicians' items through any OpenAI-compatible endpoint.

Qt-free and database-free: ``config`` (what a run asks for), ``privacy`` (consent, keys,
redaction), ``templates`` (versioned, hashed prompts per rubric style), ``parse`` (tolerant JSON
replies → answers), ``confidence`` (logprobs / self-consistency / stated), ``client`` (one
chat request with retries), ``runner`` (bounded-concurrency execution with cancel) and
``testing_server`` (a local fake endpoint with injected faults). The database side lives in
``medreview.services.judging``.
"""
