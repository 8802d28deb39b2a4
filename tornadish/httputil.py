"""The HTTP model: headers, the server-side request object and the delegate interfaces.

Pure data and parsing, no I/O. The connection layer builds :class:`HTTPServerRequest`
objects and hands them to an :class:`HTTPServerConnectionDelegate` (the ``Application``);
the web layer writes its answer through the request's :class:`HTTPConnection`.
"""

from __future__ import annotations

from tornadish._http.contract import (
    HTTPConnection as HTTPConnection,
)
from tornadish._http.contract import (
    HTTPMessageDelegate as HTTPMessageDelegate,
)
from tornadish._http.contract import (
    HTTPServerConnectionDelegate as HTTPServerConnectionDelegate,
)
from tornadish._http.headers import (
    HTTPHeaders as HTTPHeaders,
)
from tornadish._http.headers import (
    HTTPInputError as HTTPInputError,
)
from tornadish._http.headers import (
    HTTPOutputError as HTTPOutputError,
)
from tornadish._http.headers import (
    normalize_header as normalize_header,
)
from tornadish._http.parse import (
    HTTPFile as HTTPFile,
)
from tornadish._http.parse import (
    ParseBodyConfig as ParseBodyConfig,
)
from tornadish._http.parse import (
    ParseMultipartConfig as ParseMultipartConfig,
)
from tornadish._http.parse import (
    ParseUrlEncodedConfig as ParseUrlEncodedConfig,
)
from tornadish._http.parse import (
    RequestStartLine as RequestStartLine,
)
from tornadish._http.parse import (
    ResponseStartLine as ResponseStartLine,
)
from tornadish._http.parse import (
    encode_username_password as encode_username_password,
)
from tornadish._http.parse import (
    format_timestamp as format_timestamp,
)
from tornadish._http.parse import (
    parse_body_arguments as parse_body_arguments,
)
from tornadish._http.parse import (
    parse_cookie as parse_cookie,
)
from tornadish._http.parse import (
    parse_multipart_form_data as parse_multipart_form_data,
)
from tornadish._http.parse import (
    parse_qs_bytes as parse_qs_bytes,
)
from tornadish._http.parse import (
    parse_request_start_line as parse_request_start_line,
)
from tornadish._http.parse import (
    parse_response_start_line as parse_response_start_line,
)
from tornadish._http.parse import (
    qs_to_qsl as qs_to_qsl,
)
from tornadish._http.parse import (
    responses as responses,
)
from tornadish._http.parse import (
    set_parse_body_config as set_parse_body_config,
)
from tornadish._http.parse import (
    split_host_and_port as split_host_and_port,
)
from tornadish._http.parse import (
    url_concat as url_concat,
)
from tornadish._http.request import HTTPServerRequest as HTTPServerRequest

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
