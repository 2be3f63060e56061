"""Run the Amazon stand-in: python -m sandbox --host 127.0.0.1 --port 8100."""

import argparse

from . import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--debug", action="store_true", help="reload on change, show tracebacks")
    args = parser.parse_args(argv)
    # Threaded: a slow (fault-delayed) token call must not block the consent pages.
    create_app().run(host=args.host, port=args.port, debug=args.debug, threaded=True)


if __name__ == "__main__":
    main()
