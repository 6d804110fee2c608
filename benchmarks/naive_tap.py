"""The naive baseline: a plain singer-sdk stream for the permitted-clicks endpoint.

What a first tap would look like: default settings (type conformance, the default writer,
the body parsed whole with ``records_jsonpath``), the same endpoint, window and schema as the
real tap. Config: ``api_url``, ``principal``, ``secret``, ``start_date``, ``end_date``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from requests.auth import HTTPBasicAuth
from singer_sdk import RESTStream, Tap
from singer_sdk import typing as th

import tap_proofpoint_tap

SCHEMA = json.loads(
    (Path(tap_proofpoint_tap.__file__).parent / "schemas" / "click.json").read_text()
)


class NaiveClicks(RESTStream):
    name = "clicks_permitted"
    path = "/v2/siem/clicks/permitted"
    records_jsonpath = "$.clicksPermitted[*]"
    primary_keys = ("id",)
    schema = SCHEMA

    @property
    def url_base(self) -> str:
        return self.config["api_url"]

    @property
    def authenticator(self) -> HTTPBasicAuth:
        return HTTPBasicAuth(self.config["principal"], self.config["secret"])

    def get_url_params(self, context: Any, next_page_token: Any) -> dict[str, Any]:
        return {
            "format": "json",
            "threatStatus": ["active", "cleared"],
            "interval": f"{self.config['start_date']}/{self.config['end_date']}",
        }


class NaiveTap(Tap):
    name = "naive-proofpoint"
    config_jsonschema = th.PropertiesList(
        *(
            th.Property(key, th.StringType, required=True)
            for key in ("api_url", "principal", "secret", "start_date", "end_date")
        ),
    ).to_dict()

    def discover_streams(self) -> list:
        return [NaiveClicks(tap=self)]


if __name__ == "__main__":
    NaiveTap.cli()
