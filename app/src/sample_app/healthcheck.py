"""Docker HEALTHCHECK probe: GET /health on localhost, using the standard library only."""

from __future__ import annotations

import http.client
import os
import sys

TIMEOUT_SECONDS = 3.0


def probe(port: int, *, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """Return None when /health answers 200, else the reason it did not."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health", headers={"User-Agent": "sample_app-healthcheck"})
        response = connection.getresponse()
        body = response.read(500)
    except TimeoutError:
        return f"no answer from 127.0.0.1:{port} within {timeout:g} s"
    except OSError as exc:
        return f"cannot reach 127.0.0.1:{port}: {exc.strerror or exc}"
    except http.client.HTTPException as exc:
        return f"bad HTTP response from 127.0.0.1:{port}: {type(exc).__name__}"
    finally:
        connection.close()
    if response.status != 200:
        excerpt = body.decode("utf-8", "replace").replace("\n", " ")[:200]
        return f"/health answered {response.status}: {excerpt}"
    return None


def main() -> int:
    """Exit 0 when healthy, 1 with a one-line reason on stderr otherwise."""
    raw_port = os.environ.get("PORT", "8000").strip() or "8000"
    if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
        print(
            f"unhealthy: PORT must be an integer between 1 and 65535 (got {raw_port!r})",
            file=sys.stderr,
        )
        return 1
    reason = probe(int(raw_port))
    if reason is not None:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return 1
    return 0
