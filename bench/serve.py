"""Launch the benchmark API server: ``python -m bench.serve --port P --workers N``.

The same as ``uvicorn --factory bench.app:make_app --workers N`` except for one thing: the
listening socket is created with ``IPPROTO_TCP``. uvicorn's own multi-worker path binds it
with protocol 0, so asyncio never sets ``TCP_NODELAY`` on accepted connections and every
keep-alive response waits ~40 ms for the client's delayed ACK (uvicorn issue #3149). That
would measure Linux's Nagle timer, not Tonari. ``--stock`` runs plain uvicorn to show it.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "bench.app:make_app"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--stock",
        action="store_true",
        help="let uvicorn bind the socket (shows the missing TCP_NODELAY)",
    )
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        APP,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_level="warning",
    )
    if args.workers == 1:
        uvicorn.Server(config).run()
        return
    if args.stock:
        sock = config.bind_socket()
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main()
