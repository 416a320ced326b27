"""Where a server is: ``http://host:8470``, ``https://host``, or ``host:port``; and the model
key (``server:URL``) that stands for "frames from this server" wherever a model is named."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.wire import DEFAULT_PORT

SERVER_PREFIX = "server:"


def is_server_model(model: str | None) -> bool:
    return model is not None and model.startswith(SERVER_PREFIX)


def server_model(url: str) -> str:
    return SERVER_PREFIX + ServerAddress.parse(url).url


def describe_server(model: str) -> str:
    """``host:port`` of a ``server:URL`` key, or the key as typed if it is no address."""
    try:
        return ServerAddress.parse(model).display
    except InvalidRequestError:
        return model.removeprefix(SERVER_PREFIX)


@dataclass(frozen=True)
class ServerAddress:
    scheme: str  # "http" or "https"
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ServerAddress:
        """An address as a person types it; InvalidRequestError with an example otherwise."""
        text = text.strip().removeprefix(SERVER_PREFIX)
        example = "a server address looks like http://gpu-box:8470 or https://10.0.0.5:8470"
        if not text:
            raise InvalidRequestError(f"no server address given: {example}")
        if "://" not in text:
            text = "http://" + text
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as err:
            raise InvalidRequestError(
                f"{text!r} is not a server address ({err}): {example}"
            ) from None
        if parts.scheme not in ("http", "https"):
            raise InvalidRequestError(
                f"{text!r}: the server address must start with http:// or https://"
            )
        if not parts.hostname:
            raise InvalidRequestError(f"{text!r} names no host: {example}")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise InvalidRequestError(f"{text!r}: give only the scheme, host and port: {example}")
        return cls(parts.scheme, parts.hostname, port or DEFAULT_PORT)

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.display}"


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (a name is resolved: 'localhost' is loopback)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    import socket

    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)
