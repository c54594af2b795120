"""``infoscrub serve``: the web service and its page (loopback only unless told otherwise)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

KEEP_ALIVE_S = 5  # an idle kept-alive connection is closed after this


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="run the web service (POST /v1/scrub) and its page at /",
        description="Serve POST /v1/scrub, GET /v1/attributes, GET /healthz and an upload "
        "page at /. Listens on 127.0.0.1 by default: put a TLS proxy with authentication in "
        "front before exposing it.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                       "127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--checkpoint", help="model weights (default: the bundled ones)")
    serve.add_argument("--attacker", help="attacker weights for the report (default: bundled)")
    serve.add_argument("--device", default="cpu", help="torch device (default cpu)")
    serve.add_argument("--identity", action="store_true",
                       help="say per face whether it is still the same person (needs the extra "
                       "infoscrub[identity]; about 0.12 s of CPU a face, so off by default here)")
    serve.add_argument("--max-upload-mb", type=float, default=25.0,
                       help="largest accepted upload (default 25 MB)")
    serve.add_argument("--max-megapixels", type=float, default=40.0,
                       help="largest accepted photo (default 40 megapixels)")
    serve.add_argument("--body-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="drop an upload that sends nothing for this long (default 10)")
    serve.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="close a connection whose request headers have not all arrived this long "
                       "after it opened or after its last answer (default 10)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="also answer requests whose Host header is NAME (repeatable; "
                       "'*' for any). Default: localhost, 127.0.0.1, [::1] and --host")
    serve.set_defaults(handler=run_serve)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from infoscrub.errors import InfoscrubError
    from infoscrub.scrubber import Scrubber
    from infoscrub.service.app import create_app
    from infoscrub.service.guards import LOOPBACK_HOSTS, ServiceLimits, configure_threads
    from infoscrub.service.connections import http_protocol

    if not 0 < args.port < 65536:
        raise InfoscrubError(f"--port must be 1-65535, not {args.port}")
    if args.body_timeout <= 0:
        raise InfoscrubError(f"--body-timeout must be above 0, not {args.body_timeout}")
    if not args.header_timeout > 0:
        raise InfoscrubError(f"--header-timeout must be above 0, not {args.header_timeout}")
    if not is_loopback(args.host):
        print(f"infoscrub: warning: listening on {args.host}, reachable from other machines; "
              "the service has no authentication (name the host names clients use with "
              "--allowed-host)", file=sys.stderr)
    limits = ServiceLimits(max_upload_bytes=int(args.max_upload_mb * 2**20),
                           max_pixels=int(args.max_megapixels * 1e6),
                           body_idle_timeout_s=args.body_timeout, header_timeout_s=args.header_timeout)
    configure_threads(limits.workers)
    scrubber = Scrubber.load(args.checkpoint, attacker=args.attacker, device=args.device, identity=args.identity)
    hosts = [*LOOPBACK_HOSTS, args.host, *args.allowed_host]
    app = create_app(scrubber, limits, allowed_hosts=hosts)
    logging.basicConfig(format="infoscrub: %(levelname)s: %(message)s")  # service errors
    print(f"infoscrub: serving on http://{args.host}:{args.port}/", file=sys.stderr)
    # the protocol closes connections whose headers stall (uvicorn times out only idle ones)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_S, http=http_protocol(limits.header_timeout_s))
    return 0
