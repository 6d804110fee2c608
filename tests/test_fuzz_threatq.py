"""Hostile servers for target-threatq (issue 24): whatever answers at ``api_url`` — any status,
redirect, content type or body, JSON of any shape and depth, bytes that are not text, a
trickle, a body cut short — the target either loads or stops with one printable line that shows
no secret, and sends nothing to another host.

First a property over the client in process (hypothesis, derandomised like tests/test_fuzz.py;
``make fuzz`` explores further): one hostile answer to the token request, a lookup or a write.
Then hostile answers at each step of a run, through the CLI.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tap_proofpoint_tap.targets.threatq.api import ThreatQClient
from tap_proofpoint_tap.targets.threatq.errors import OutcomeUnknown, ThreatQError
from tests.hostile import Hostile, answer, redirect, trickle
from tests.threatq_runs import assert_one_line, config_for, run_target, three_clicks

PASSWORD, SECRET, TOKEN = "hostile-password-1", "hostile-secret-1", "tqa-hostile-token-1"
SECRETS = (PASSWORD, SECRET, TOKEN)
ROUTES = {"token": "/api/token", "lookup": "/api/objects", "write": "/api/indicators/consume"}


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    return three_clicks(tmp_path_factory)


@pytest.fixture(scope="module")
def servers():
    """A recorder where no request may land, and the hostile ThreatQ (rules set per example)."""
    with Hostile() as elsewhere, Hostile() as front:
        yield elsewhere, front


token_answer = answer(200, json.dumps({"access_token": TOKEN, "expires_in": 3600}).encode())

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
values = st.recursive(
    scalars | st.sampled_from(SECRETS),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
rows = st.lists(
    st.fixed_dictionaries({}, optional={"id": values, "collection": values, "name": values}),
    max_size=4,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "data": values | rows,
        "total": values,
        "errors": values,
        "message": values,
        "access_token": values,
        "expires_in": values,
    },
)
bodies = (
    st.builds(lambda v: json.dumps(v).encode(), envelopes | values)
    | st.binary(max_size=300)
    | st.builds(
        lambda depth: b"[" * depth + b"]" * depth, st.integers(min_value=100, max_value=100_000)
    )
    | st.sampled_from(
        [
            b"",
            b"<html>\n<head><title>Sign in</title></head>\n<body>\r\n\x1b[31m</body></html>",
            f'{{"errors": ["bad password {PASSWORD}\\nline two"]}}'.encode(),
            f"Bearer {TOKEN} refused\u2028\x85".encode(),
            b'{"data": [{"id": 1, "collection": "x"}], "total": 1}',
            b'{"data": [{"id": true, "collection": "x"}]}',
            b"NaN",
            b'{"data": ' + b'"x' * 50_000 + b'"}',
        ]
    )
)
statuses = st.sampled_from(
    [200, 201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 413, 422, 429, 500, 502, 503]
) | st.integers(min_value=200, max_value=599)
content_types = st.sampled_from(
    ["application/json", "text/html; charset=UTF-8", "text/plain", "application/json; x=\x7f", None]
)


locations = st.none() | st.sampled_from(
    [
        "ELSEWHERE/api/token",
        "//ELSEWHERE_HOST/steal",  # scheme-relative
        "/login?next=/api/token",
        "http://[::1",
        f"https://evil.example/{PASSWORD}",
        "",
    ]
)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def client(url: str, handler: Lines) -> ThreatQClient:
    logger = logging.getLogger("fuzz-threatq")
    logger.handlers = [handler]
    logger.propagate = False
    config = {
        "api_url": url,
        "client_id": "cid",
        "email": "analyst@hostile.example",
        "password": PASSWORD,
        "client_secret": SECRET,  # not used by the password grant, but never shown either
        "request_timeout": 5,
    }
    return ThreatQClient(config, logger, waits=(0,) * 6)


def assert_clean(text: str) -> None:
    """One printable line, short, no secret."""
    assert text and text.isprintable() and len(text) < 1000, text
    assert not any(secret in text for secret in SECRETS), text


@pytest.mark.fast
@given(
    route=st.sampled_from(sorted(ROUTES)),
    status=statuses,
    content_type=content_types,
    body=bodies,
    location=locations,
    missing=st.sampled_from([0, 0, 1, 1000]),
)
@example(
    route="token",
    status=307,
    content_type=None,
    body=b"",
    location="ELSEWHERE/api/token",
    missing=0,
)
@example(
    route="token", status=308, content_type=None, body=b"", location="//ELSEWHERE_HOST/x", missing=0
)
@example(route="write", status=200, content_type=None, body=b"[" * 10**5, location=None, missing=0)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_answer_is_loaded_or_one_clean_line(
    servers, route, status, content_type, body, location, missing
):
    elsewhere, front = servers
    headers = {}
    if location is not None:
        where = location.replace("ELSEWHERE_HOST", elsewhere.url.split("//")[1])
        headers["Location"] = where.replace("ELSEWHERE", elsewhere.url)
    front.rules = []
    front.on(answer(status, body, content_type, headers, missing), path=ROUTES[route])
    front.on(token_answer, path="/api/token")
    logged = Lines()
    tq = client(front.url, logged)
    try:
        if route == "write":
            assert len(tq.consume("indicators", [{"value": "x"}], idempotent=False)) == 1
        else:
            got = tq.lookup(ROUTES["lookup"], fields={"collection": str})
            assert all(isinstance(row["collection"], str) for row in got)
    except (ThreatQError, OutcomeUnknown) as error:
        assert_clean(str(error))
    for line in logged.lines:
        assert_clean(line)
    assert elsewhere.received == []


@pytest.mark.parametrize("headers_too", [False, True])
def test_a_server_that_trickles_gets_one_line_after_the_tries(servers, headers_too):
    """Each try ends at its deadline (0.25 s here, in process) however slowly the bytes come."""
    _, front = servers
    front.rules = []
    front.on(trickle(0.05, headers_too=headers_too), path="/api/token")
    tq = client(front.url, Lines())
    tq.timeout = 0.25
    started = time.monotonic()
    with pytest.raises(ThreatQError) as stopped:
        tq.authenticate()
    assert time.monotonic() - started < 7 * 0.25 + 1
    assert str(stopped.value) == (
        "ThreatQ did not answer POST /api/token after 7 tries (no answer within "
        "request_timeout); what was loaded stays, run again later."
    )


# -- through the CLI: one hostile answer at each step of a run --

LOGIN_PAGE = (
    b"<html>\n<head>\n<title>ThreatQ | Sign in</title>\n</head>\n<body>\n</body>\n</html>\n"
)
NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>"
)


def j(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("path", "action", "message"),
    [
        pytest.param(
            "/api/objects",
            answer(200, LOGIN_PAGE, "text/html"),
            "GET /api/objects after 7 tries (HTTP 200 with a body that is not JSON (text/html))",
            id="login page",
        ),
        pytest.param(
            "/api/indicator/types",
            answer(404, NGINX_404, "text/html"),
            "ThreatQ refused GET /api/indicator/types (404): 404 Not Found 404 Not Found nginx",
            id="proxy 404 page",
        ),
        pytest.param(
            "/api/indicator/statuses",
            answer(200, j({"data": {"id": 1, "name": "Active"}})),
            "GET /api/indicator/statuses: its data is not a list of objects",
            id="data not a list",
        ),
        pytest.param(
            "/api/indicator/types",
            answer(200, j({"data": [{"id": 1}]})),
            "GET /api/indicator/types: its data has a row without a text 'name'",
            id="row without name",
        ),
        pytest.param(
            "/api/corporate_email",
            answer(200, j({"data": [{"id": "7"}]})),
            "GET /api/corporate_email: its data has a row without an integer 'id'",
            id="id not an integer",
        ),
        pytest.param(
            "/api/objects",
            answer(200, b"[" * 200_000 + b"]" * 200_000),
            "after 7 tries (HTTP 200 with a body that is not JSON (application/json))",
            id="nested 200000 deep",
        ),
        pytest.param(
            "/api/token",
            answer(200, j({"access_token": ["x"]})),
            "ThreatQ refused the credentials",
            id="token not text",
        ),
        pytest.param(
            "/api/token",
            answer(200, j({"access_token": "tqa-x", "expires_in": "soon"})),
            "ThreatQ refused a fresh token (401)",  # the stand-in does not know it
            id="lifetime not a number",
        ),
        pytest.param(
            "/api/corporate_email/consume",
            answer(201, j({"data": [{"error": {"value": [["bad\nvalue\x1b"] * 3]}}] * 3})),
            "ThreatQ refused threatq_corporate_emails",
            id="item error on lines",
        ),
        pytest.param(
            "/api/incident/consume",
            answer(201, j({"data": [], "errors": [[[[[[["deep"]]]]]]] * 50})),
            "ThreatQ answered POST /api/incident/consume with errors: deep; deep",
            id="errors nested",
        ),
        pytest.param(
            "/api/objects",
            redirect(301, "/login"),
            "redirected to http://127.0.0.1:",
            id="redirect to a login page",
        ),
    ],
)
def test_a_hostile_answer_at_any_step_is_one_line(tmp_path, three, path, action, message):
    with ThreatQSandbox() as tq, Hostile(tq.url) as front:
        front.on(action, path=path)
        run = run_target(tmp_path, three.lines, config_for(front.url), quick=True, timeout=60)
    assert_one_line(run, message)
    assert run.states == []
