"""Run judge tasks with bounded concurrency; results come back on the caller's thread.

``judge_task`` makes the request(s) for one task and turns the reply into an ``Outcome``
(done with a result, or failed with a reason and the raw text). ``run_tasks`` keeps at most
``concurrency`` requests in flight, calls ``on_outcome`` on the calling thread (so the caller
can write to a single-writer database) and stops taking new work once the token is cancelled;
outcomes of requests still in flight at cancellation are dropped, not recorded. A
``JudgeError`` from a task (the endpoint redirected elsewhere) ends the whole run: it is
raised to the caller once, and no new request is started.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from medreview.errors import JudgeError
from medreview.judge.client import JudgeClient, RequestFailed
from medreview.judge.confidence import Sample, decide
from medreview.judge.parse import ReplyParseError
from medreview.judge.privacy import redact
from medreview.judge.templates import JudgeTask
from medreview.progress import Cancelled, CancelToken

log = logging.getLogger(__name__)
K = TypeVar("K")

MAX_RAW = 20_000  # raw text kept for a failed item


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    raw_text: str = ""
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    cached: bool = False


def judge_task(client: JudgeClient, task: JudgeTask, *, n_samples: int = 1,
               parse_retries: int = 1, token: CancelToken | None = None) -> Outcome:
    """Ask, parse, decide; re-ask up to ``parse_retries`` times when no sample parses."""
    requests = prompt = completion = 0
    error, raw = "", ""
    for attempt in range(1, parse_retries + 2):
        try:
            reply = client.complete(task.messages, task.schema, n=n_samples, token=token)
        except RequestFailed as exc:
            return Outcome("failed", error=exc.reason, requests=requests + exc.requests,
                           prompt_tokens=prompt, completion_tokens=completion, attempts=attempt)
        requests += reply.requests
        prompt += reply.prompt_tokens
        completion += reply.completion_tokens
        samples = [Sample(t, lp) for t, lp in zip(reply.texts, reply.tokens, strict=True)]
        try:
            result = decide(task, samples)
        except ReplyParseError as exc:
            truncated = "length" in reply.finish_reasons
            error = f"unparseable reply: {exc.reason}" + (" (hit max_tokens)" if truncated else "")
            raw = "\n---\n".join(reply.texts)[:MAX_RAW]
            continue
        return Outcome("done", result=result, requests=requests, prompt_tokens=prompt,
                       completion_tokens=completion, attempts=attempt)
    return Outcome("failed", error=error, raw_text=raw, requests=requests, prompt_tokens=prompt,
                   completion_tokens=completion, attempts=parse_retries + 1)


class _Work(Generic[K]):
    def __init__(self, key: K, task: JudgeTask) -> None:
        self.key = key
        self.task = task


def run_tasks(
    items: Iterable[tuple[K, JudgeTask]],
    work: Callable[[JudgeTask], Outcome],
    on_outcome: Callable[[K, JudgeTask, Outcome], None],
    *,
    concurrency: int = 4,
    token: CancelToken | None = None,
    secrets: tuple[str | None, ...] = (),
) -> bool:
    """Run ``work`` over ``items``; True if every item got an outcome, False if cancelled."""
    concurrency = max(1, concurrency)
    pool = cf.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="medreview-judge")
    pending: dict[cf.Future[Outcome], _Work[K]] = {}
    it = iter(items)
    exhausted = False
    fatal = False
    try:
        while True:
            cancelled = token is not None and token.cancelled
            while not cancelled and not exhausted and len(pending) < concurrency:
                try:
                    key, task = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending[pool.submit(work, task)] = _Work(key, task)
            if cancelled:
                return False
            if not pending:
                return True
            done, _ = cf.wait(pending, timeout=0.1, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                w = pending.pop(fut)
                try:
                    outcome = fut.result()
                except Cancelled:
                    continue
                except JudgeError:
                    fatal = True  # every further request would meet the same refusal
                    raise
                except Exception as exc:  # a bug must not lose the run: record the item
                    log.exception("judge task %s crashed", w.task.item_key)
                    outcome = Outcome("failed", error=redact(
                        f"internal error: {type(exc).__name__}: {exc}", secrets))
                on_outcome(w.key, w.task, outcome)
    except BaseException:
        fatal = True  # e.g. the database stayed busy: do not wait for requests in flight
        raise
    finally:
        # Do not wait for in-flight requests after a cancel; they are redone on resume.
        pool.shutdown(wait=not (fatal or (token is not None and token.cancelled)),
                      cancel_futures=True)
