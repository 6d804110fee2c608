"""What every stream of the tap shares: the API's address, credentials, deadline, retries."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from requests.auth import HTTPBasicAuth
from singer_sdk import RESTStream
from typing_extensions import override

from tap_proofpoint_tap.errors import TapError
from tap_proofpoint_tap.reader import Transport

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from singer_sdk.helpers.types import Context


class ApiStream(RESTStream[None]):
    """A stream of the TAP API: the SDK's session and backoff, handed to our readers."""

    @property
    @override
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    @property
    @override
    def authenticator(self) -> HTTPBasicAuth:
        return HTTPBasicAuth(self.config["principal"], self.config["secret"])

    @property
    @override
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 300))

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's own error line ("An unhandled error occurred while syncing") is left out
        while a :class:`TapError` goes up: the tap says that error's one line itself."""
        if level >= logging.ERROR and isinstance(sys.exc_info()[1], TapError):
            return
        super().log(message, *args, level=level, **kwargs)

    def transport(self) -> Transport:
        """The SDK's session, credentials, timeout and backoff, for the reader."""
        session = self.requests_session
        # An http api_url sends the Basic auth header in clear: to a proxy named by the
        # environment (http_proxy) too. Proxies stay for https, whose tunnel they cannot read.
        session.trust_env = not self.url_base.lower().startswith("http://")
        return Transport(
            session=session,
            base_url=self.url_base,
            headers={"User-Agent": self.user_agent, **self.http_headers},
            auth=self.authenticator,
            timeout=self.timeout,
            tries=self.backoff_max_tries(),
            waits=self._waits,
            logger=self.logger,
        )

    def _waits(self) -> Generator[float, None, None]:
        waits = self.backoff_wait_generator()
        next(waits)  # the generator's priming value
        for wait in waits:
            yield self.backoff_jitter(wait)

    @override
    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[dict[str, Any] | None]:
        """No stream of the tap has child streams: nothing to derive per record."""
        return ()
