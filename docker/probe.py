#!/usr/bin/env python3
"""Container health check: exit 0 if the service on this container answers 200 on PATH, else 1.

    textsep-probe /healthz    liveness (the image's HEALTHCHECK)
    textsep-probe /readyz     readiness (compose gates nginx on it)

Standard library only, so a probe costs little; the port comes from the service's own variables.
"""

import os
import sys
import urllib.request


def main(path: str) -> int:
    port = os.environ.get("TEXTSEP_PORT") or os.environ.get("PORT") or "8000"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as error:  # refused, timed out, or an error status such as 503
        print(f"{path}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
