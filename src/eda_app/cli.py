"""``python -m eda_app publish ...``: publish one application event from the shell.

    python -m eda_app publish user_signup --user-id u1 --email a@b.c --name Ann
    python -m eda_app publish order --order-id o1 --customer-id c1 --sku S --quantity 1 \\
        --amount 9.5 [--via sns|eventbridge|fifo] [--seq N]
    python -m eda_app publish raw --file event.json [--via ...]     (--file - reads stdin)

Before publishing, the event is parsed with the model of the function that consumes it
(its ``models.py``, in its folder or its layer, found through ``--topology``), so an order that
order_consumer would reject is refused here; ``--no-validate`` sends it anyway, for
deliberate bad-input tests. Option values may start with ``-`` (``--amount -5``).

Prints ``event_id=... correlation_id=...``; exits 1 with ``error: ...`` on stderr when
the event is refused or the publish fails, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eda_app.errors import EdaAppError, InvalidEventError
from eda_app.events import prepare_event
from eda_app.outputs import Outputs, load_outputs
from eda_app.producers import publish_event, publish_order, put_events
from eda_app.validation import DEFAULT_TOPOLOGY, validate
from eda_sandbox.cli.arguments import join_dash_values
from eda_sandbox.errors import SandboxError

VIAS = ("sns", "eventbridge", "fifo")


def _number(text: str) -> int | float:
    """Keep ``9`` an integer in the JSON and ``9.5`` a float, as a producer would."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from e


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eda_app", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--outputs", type=Path, help="topology outputs file (default: .sandbox/outputs.json)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser("publish", help="publish one event")
    kinds = publish.add_subparsers(dest="kind", required=True)

    def with_ids(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--event-id", help="default: a new uuid4")
        sub.add_argument("--correlation-id", help="default: a new uuid4")
        with_checks(sub)

    def with_checks(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--no-validate",
            action="store_true",
            help="skip the consumer's model check (for deliberate bad-input tests)",
        )
        sub.add_argument(
            "--topology",
            type=Path,
            default=DEFAULT_TOPOLOGY,
            help="where the consumers' code is declared (default: infra/topology.yaml)",
        )

    signup = kinds.add_parser("user_signup", help="to SNS EventTopic")
    signup.add_argument("--user-id", required=True)
    signup.add_argument("--email", required=True)
    signup.add_argument("--name", required=True)
    with_ids(signup)

    order = kinds.add_parser("order", help="order_placed via SNS, EventBridge or the FIFO topic")
    order.add_argument("--order-id", required=True)
    order.add_argument("--customer-id", required=True)
    order.add_argument("--sku", required=True)
    order.add_argument("--quantity", type=int, required=True)
    order.add_argument("--amount", type=_number, required=True)
    order.add_argument("--via", choices=VIAS, default="sns")
    order.add_argument("--seq", type=int, help="per-customer sequence number (needed for fifo)")
    with_ids(order)

    raw = kinds.add_parser("raw", help="an event from a JSON file, as it is")
    raw.add_argument("--file", required=True, help="JSON file with one event object; - for stdin")
    raw.add_argument("--via", choices=VIAS, default="sns")
    with_checks(raw)
    return parser


def _with_ids(event: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    if args.event_id:
        event["event_id"] = args.event_id
    if args.correlation_id:
        event["correlation_id"] = args.correlation_id
    return event


def _read_event(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidEventError("--file", f"cannot be read: {e}") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidEventError("--file", f"is not JSON: {e}") from e


def _build_event(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    if args.kind == "user_signup":
        event = {
            "event_type": "user_signup",
            "user_id": args.user_id,
            "email": args.email,
            "name": args.name,
        }
        return _with_ids(event, args), "sns"
    if args.kind == "order":
        event = {
            "event_type": "order_placed",
            "order_id": args.order_id,
            "customer_id": args.customer_id,
            "sku": args.sku,
            "quantity": args.quantity,
            "amount": args.amount,
        }
        if args.seq is not None:
            event["seq"] = args.seq
        elif args.via == "fifo":
            raise InvalidEventError("--seq", "is required with --via fifo")
        return _with_ids(event, args), str(args.via)
    loaded = _read_event(args.file)
    return prepare_event(loaded), str(args.via)


def _publish(event: dict[str, Any], via: str, outputs: Outputs | None) -> None:
    if via == "sns":
        publish_event(event, outputs=outputs)
    elif via == "fifo":
        publish_order(event, outputs=outputs)
    else:
        put_events([event], outputs=outputs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_dash_values(parser, sys.argv[1:] if argv is None else argv))
    try:
        event, via = _build_event(args)
        # Ids are fixed here, before publishing, so what is printed is what was sent.
        event = prepare_event(event)
        if not args.no_validate:
            validate(event, via, args.topology)
        outputs = load_outputs(args.outputs) if args.outputs else None
        _publish(event, via, outputs)
    except (EdaAppError, SandboxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"event_id={event['event_id']} correlation_id={event['correlation_id']}")
    return 0
