"""What the project's mappers share: a bad input line or a target that stops reading ends the
run with one line and exit 1, STATE passes through unchanged (Meltano keeps the tap's
bookmark), and the messages a mapper lets pass are written as they came."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.mapper_base import InlineMapper
from singer_sdk.singerlib import Message, StateMessage
from typing_extensions import override

from tap_proofpoint_tap.errors import TapError
from tap_proofpoint_tap.singer_io import CheckedReader, StateFlushingWriter

if TYPE_CHECKING:
    from collections.abc import Iterable


class PipeMapper(InlineMapper):
    """An InlineMapper between the tap and any target; :meth:`passes` says which of the tap's
    messages go on untouched."""

    package_name = "tap-proofpoint-tap"
    message_reader_class = CheckedReader
    message_writer_class = StateFlushingWriter
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; a bad input line, or a target that stops reading, ends it with one
        line and exit 1."""
        try:
            super().invoke(*args, **kwargs)
        except TapError as error:
            cls.logger.error("%s", error)
            sys.exit(1)

    def passes(self, message_dict: dict[str, Any]) -> bool:
        """Whether a SCHEMA, RECORD or ACTIVATE_VERSION message of the tap goes on as it came."""
        raise NotImplementedError

    # Messages that pass through are written as they came: dicts, which StateFlushingWriter
    # writes as well as Messages. The SDK annotates these methods with Message only, hence
    # the ignore[override] on those that yield dicts.

    @override
    def map_state_message(self, message_dict: dict[str, Any]) -> Iterable[Message]:
        yield StateMessage(value=message_dict["value"])

    @override
    def map_activate_version_message(  # type: ignore[override]
        self, message_dict: dict[str, Any]
    ) -> Iterable[Message | dict[str, Any]]:
        if self.passes(message_dict):
            yield message_dict
