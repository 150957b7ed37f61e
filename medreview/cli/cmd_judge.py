"""``medreview judge PROJECT --base-url URL --model NAME``: grade a project with an LLM judge.

Progress goes to stderr; the summary (judged, failed, cached, tokens, cost, parameters the
endpoint refused) to stdout. Ctrl+C cancels cleanly: finished items stay recorded and
``--resume RUN`` continues the run. A refused redirect or a project database that stays busy
ends the run with one line; the run can be resumed.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from typing import Any

from medreview.cli.common import project_arg


def _or_none(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type that also takes ``none`` (the parameter is then not sent)."""

    def parse(text: str) -> Any:
        return None if text.strip().lower() == "none" else kind(text)

    parse.__name__ = getattr(kind, "__name__", "value")  # argparse names it in errors
    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from medreview.judge.config import DEFAULT_KEY_ENV
    from medreview.judge.templates import STYLES

    p = sub.add_parser(
        "judge", help="grade the project's outputs with an LLM judge (OpenAI-compatible API)",
        description="Grade the project's outputs through any OpenAI-compatible endpoint "
        "(OpenAI, Azure, vLLM, Ollama, llama.cpp, LM Studio). A remote endpoint needs the "
        "project's recorded consent; the API key comes from the keyring or an env variable.")
    p.add_argument("project", type=project_arg)
    p.add_argument("--base-url", required=True,
                   help="e.g. http://127.0.0.1:11434/v1 (no key in it: use the keyring or "
                   "--api-key-env)")
    p.add_argument("--model", required=True)
    p.add_argument("--template", choices=STYLES, default="auto",
                   help="prompt style (auto picks per question kind)")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    p.add_argument("--limit", type=int, default=None, help="judge only the first N outputs")
    p.add_argument("--resume", metavar="RUN", default=None,
                   help="continue run RUN (id or uid prefix); done items are not re-sent")
    p.add_argument("--temperature", type=_or_none(float), default=0.0,
                   help="default 0; 'none' leaves it to the server (not sent)")
    p.add_argument("--max-tokens", type=_or_none(int), default=1024,
                   help="default 1024; 'none' leaves it to the server (not sent)")
    p.add_argument("--seed", type=int, default=None,
                   help="sampling seed; sent only when given (dropped if the server refuses it)")
    p.add_argument("--samples", type=int, default=1,
                   help="n samples per item for self-consistency (use a temperature > 0)")
    p.add_argument("--no-logprobs", action="store_true", help="do not ask for token logprobs")
    p.add_argument("--structured", choices=("auto", "json_schema", "json_object", "none"),
                   default="auto", help="reply format to request (auto falls back)")
    p.add_argument("--images", action="store_true", help="also send case images (PNG/JPEG)")
    p.add_argument("--api-key-env", default=DEFAULT_KEY_ENV,
                   help=f"environment variable holding the key (default {DEFAULT_KEY_ENV})")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    p.add_argument("--max-retries", type=int, default=6)
    p.add_argument("--price-in", type=float, default=0.0, help="USD per 1M prompt tokens")
    p.add_argument("--price-out", type=float, default=0.0, help="USD per 1M completion tokens")
    p.add_argument("--few-shot-from", metavar="RUN", default=None,
                   help="new prompt version: show the judge physicians' corrections of run RUN "
                   "from the training split (see medreview judge-eval)")
    p.add_argument("--few-shot", type=int, default=4, metavar="N",
                   help="how many corrections with --few-shot-from (default 4)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.progressbar import ProgressBar
    from medreview.judge.config import JudgeConfig
    from medreview.progress import CancelToken
    from medreview.services.judging import run_judge
    from medreview.services.projects import open_project

    config = JudgeConfig(
        base_url=args.base_url, model=args.model, api_key_env=args.api_key_env,
        temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed,
        n_samples=max(1, args.samples), logprobs=not args.no_logprobs,
        structured=args.structured, images=args.images, concurrency=max(1, args.concurrency),
        timeout_s=args.timeout, max_retries=args.max_retries,
        price_prompt_per_mtok=args.price_in, price_completion_per_mtok=args.price_out)
    if config.n_samples > 1 and config.temperature == 0:
        print("medreview judge: note: --samples > 1 at temperature 0 gives identical samples",
              file=sys.stderr)
    token = CancelToken()

    def on_sigint(signum: int, frame: Any) -> None:
        token.cancel()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with open_project(args.project) as project, ProgressBar("judge") as bar:
            if args.few_shot_from is not None and args.resume is None:
                from medreview.services.judge_eval import run_judge_few_shot

                summary, examples = run_judge_few_shot(
                    project, config, from_run=args.few_shot_from, k=args.few_shot,
                    style=args.template, limit=args.limit, progress=bar, token=token)
                print(f"{len(examples)} few-shot examples from run {args.few_shot_from} "
                      "(training split)", file=sys.stderr)
            else:
                summary = run_judge(project, config, style=args.template, limit=args.limit,
                                    resume=args.resume, progress=bar, token=token)
    finally:
        signal.signal(signal.SIGINT, previous)
    print(f"run {summary.run_id} ({summary.run_uid}), rater {summary.rater_name}: "
          f"{summary.status}")
    print(f"  items: {summary.items_total} total, {summary.already_done} already done, "
          f"{summary.judged} judged, {summary.cached} cached, {summary.failed} failed")
    print(f"  requests: {summary.requests}, tokens: {summary.prompt_tokens} prompt + "
          f"{summary.completion_tokens} completion, est. cost ${summary.cost_usd:.4f}")
    if summary.dropped_params:
        print(f"  the endpoint refused {', '.join(summary.dropped_params)}: sent without "
              "it for this run (recorded with the run)")
    for output_id, item, reason in summary.failures[:10]:
        print(f"  failed: output {output_id} {item}: {reason}")
    if summary.status == "cancelled":
        print(f"cancelled; continue with --resume {summary.run_id}", file=sys.stderr)
        return 130
    return 0 if summary.failed == 0 else 1
