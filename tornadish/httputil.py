"""The HTTP model: headers, the server-side request object and the delegate interfaces.

Pure data and parsing, no I/O. The connection layer builds :class:`HTTPServerRequest`
objects and hands them to an :class:`HTTPServerConnectionDelegate` (the ``Application``);
the web layer writes its answer through the request's :class:`HTTPConnection`.
"""

from __future__ import annotations

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
