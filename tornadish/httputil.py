"""The HTTP model: headers, the server-side request object and the delegate interfaces.

Pure data and parsing, no I/O. The connection layer builds :class:`HTTPServerRequest`
objects and hands them to an :class:`HTTPServerConnectionDelegate` (the ``Application``);
the web layer writes its answer through the request's :class:`HTTPConnection`.
"""

from __future__ import annotations

import re
from typing import Any

from tornadish._http.contract import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
)
from tornadish._http.headers import (
    HTTPHeaders,
    HTTPInputError,
    HTTPOutputError,
    normalize_header,
)
from tornadish._http.parse import (
    HTTPFile,
    ParseBodyConfig,
    ParseMultipartConfig,
    ParseUrlEncodedConfig,
    RequestStartLine,
    ResponseStartLine,
    encode_username_password,
    format_timestamp,
    get_parse_body_config,
    parse_body_arguments,
    parse_cookie,
    parse_multipart_form_data,
    parse_qs_bytes,
    parse_request_start_line,
    parse_response_start_line,
    qs_to_qsl,
    responses,
    set_parse_body_config,
    split_host_and_port,
    url_concat,
)
from tornadish._http.parse import (
    _parse_header as _parse_header,
)
from tornadish._http.request import HTTPServerRequest

__all__ = [
    "HTTPConnection",
    "HTTPFile",
    "HTTPHeaders",
    "HTTPInputError",
    "HTTPMessageDelegate",
    "HTTPOutputError",
    "HTTPServerConnectionDelegate",
    "HTTPServerRequest",
    "ParseBodyConfig",
    "ParseMultipartConfig",
    "ParseUrlEncodedConfig",
    "RequestStartLine",
    "ResponseStartLine",
    "encode_username_password",
    "format_timestamp",
    "normalize_header",
    "parse_body_arguments",
    "parse_cookie",
    "parse_multipart_form_data",
    "parse_qs_bytes",
    "parse_request_start_line",
    "parse_response_start_line",
    "qs_to_qsl",
    "responses",
    "set_parse_body_config",
    "split_host_and_port",
    "url_concat",
]


def __getattr__(name: str) -> Any:
    # Tornado's module global ``_DEFAULT_PARSE_BODY_CONFIG``, read live so that it follows
    # set_parse_body_config() as Tornado's does.
    if name == "_DEFAULT_PARSE_BODY_CONFIG":
        return get_parse_body_config()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _ABNF:
    """The ABNF rules of RFC 3986, 5234, 9110 and 9112 that Tornado's ``httputil`` names,
    as compiled patterns (hyphens become underscores), for code and tests that use them.

    As in Tornado, ``uri_host`` is simplified: brackets and colons may appear anywhere.
    """

    # RFC 3986 (URI)
    uri_unreserved = re.compile(r"[A-Za-z0-9\-._~]")
    uri_sub_delims = re.compile(r"[!$&'()*+,;=]")
    uri_pct_encoded = re.compile(r"%[0-9A-Fa-f]{2}")
    uri_host = re.compile(
        rf"(?:[\[\]:]|{uri_unreserved.pattern}|{uri_sub_delims.pattern}|{uri_pct_encoded.pattern})*"
    )
    uri_port = re.compile(r"[0-9]*")

    # RFC 5234 (ABNF)
    VCHAR = re.compile(r"[\x21-\x7E]")

    # RFC 9110 (HTTP Semantics); field_value merges field-content and field-value.
    obs_text = re.compile(r"[\x80-\xFF]")
    field_vchar = re.compile(rf"(?:{VCHAR.pattern}|{obs_text.pattern})")
    field_value = re.compile(
        rf"|"
        rf"{field_vchar.pattern}|"
        rf"{field_vchar.pattern}(?:{field_vchar.pattern}| |\t)*{field_vchar.pattern}"
    )
    tchar = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]")
    token = re.compile(rf"{tchar.pattern}+")
    field_name = token
    method = token
    host = re.compile(rf"(?:{uri_host.pattern})(?::{uri_port.pattern})?")

    # RFC 9112 (HTTP/1.1); request_target: anything but control characters and spaces.
    HTTP_version = re.compile(r"HTTP/[0-9]\.[0-9]")
    reason_phrase = re.compile(rf"(?:[\t ]|{VCHAR.pattern}|{obs_text.pattern})+")
    request_target = re.compile(rf"{field_vchar.pattern}+")
    request_line = re.compile(
        rf"({method.pattern}) ({request_target.pattern}) ({HTTP_version.pattern})"
    )
    status_code = re.compile(r"[0-9]{3}")
    status_line = re.compile(
        rf"({HTTP_version.pattern}) ({status_code.pattern}) ({reason_phrase.pattern})?"
    )
