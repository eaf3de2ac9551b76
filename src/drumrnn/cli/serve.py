"""The serve command: the drum machine in the browser."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from drumrnn.core.errors import DrumrnnError


def cmd_serve(args) -> int:
    try:
        import uvicorn

        from drumrnn.serve.api import create_app
    except ImportError as exc:
        raise DrumrnnError(f"serve needs FastAPI and uvicorn ({exc.name} is missing): "
                           "pip install -e \".[serve]\"") from None
    from drumrnn.generation.generate import DrumGenerator
    from drumrnn.serve.machine import DrumMachine
    from drumrnn.serve.sounds import SoundBank, user_cache_dir

    if not 0 <= args.port <= 65535:
        raise DrumrnnError(f"port must lie in 0..65535, got {args.port}")
    with socket.socket() as probe:  # say so before loading anything
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            raise DrumrnnError(f"cannot listen on {args.host}:{args.port} "
                               f"({exc.strerror or exc}); pass another --port or --host") from None
    machine = DrumMachine(DrumGenerator.load(args.model))
    started = time.perf_counter()
    sounds = SoundBank(machine.kit.output_pitches, args.soundfont, user_cache_dir())
    how = "rendered" if sounds.rendered else "read from the cache"
    print(f"drum sounds {how} in {time.perf_counter() - started:.2f} s")
    app = create_app(machine, sounds, args.soundfont)
    url = f"http://{args.host}:{args.port}/"
    print(f"drumrnn drum machine at {url} (Ctrl+C stops)", flush=True)
    if args.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [url]).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="a drum machine in the browser, running a model")
    p.add_argument("--model", type=Path, default=None,
                   help="model file (default: the bundled pretrained model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--soundfont", type=Path, default=None,
                   help="SF2 soundfont for the drum sounds and WAV downloads (default: --wav's)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.set_defaults(func=cmd_serve)
