"""The floor: one window's body decoded and every record encoded as a Singer line, with msgspec.

No SDK and no HTTP in the timed part: the body is fetched first. Prints records and seconds as
JSON. Run as its own process so that the benchmark driver never holds a 100 MB body (a child
forked from a large parent would report the parent's memory as its peak RSS).
"""

from __future__ import annotations

import json
import os
import sys
import time

import msgspec
import requests


def main(url: str, start: str, end: str) -> None:
    body = requests.get(
        f"{url}/v2/siem/clicks/permitted",
        params={"format": "json", "interval": f"{start}/{end}"},
        auth=("sandbox-principal", "sandbox-secret"),
        timeout=600,
    ).content
    encoder = msgspec.json.Encoder()
    started = time.perf_counter()
    events = msgspec.json.decode(body)["clicksPermitted"]
    with open(os.devnull, "wb") as sink:
        for event in events:
            sink.write(
                encoder.encode({"type": "RECORD", "stream": "clicks_permitted", "record": event})
                + b"\n"
            )
    print(json.dumps({"records": len(events), "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
