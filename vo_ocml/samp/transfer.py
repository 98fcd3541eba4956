"""Moving tables in and out of the SAMP service: URL fetching and the private directory.

Two rules live here and nowhere else:

* **Loopback only.** A table URL is fetched only when it is ``file://`` (on this machine) or
  ``http(s)://`` on a loopback address (``127.0.0.0/8``, ``::1`` or a name resolving only to
  those), unless remote URLs were allowed explicitly. Redirects are checked by the same rule,
  proxies are bypassed for loopback fetches, and every fetch has a byte limit and a timeout.
* **Private files.** Everything the service writes goes into one directory created with mode
  0700; each file in it is made 0600. :meth:`PrivateDir.cleanup` removes the lot.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import os
import shutil
import socket
import stat
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vo_ocml.errors import InputError

log = logging.getLogger(__name__)

#: read granularity when copying a table
CHUNK_BYTES = 1 << 20


class PrivateDir:
    """A directory only this user can enter (0700), holding files only this user can read (0600).

    Parameters
    ----------
    prefix : str
        Prefix of the directory name, created under the system temporary directory.
    """

    def __init__(self, prefix: str = "vo-ocml-samp-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp creates it 0700
        os.chmod(self.path, 0o700)
        self._counter = 0

    def new_path(self, stem: str, suffix: str) -> Path:
        """Return a fresh, not yet existing path in the directory.

        Parameters
        ----------
        stem : str
            Readable part of the name; anything but letters, digits, ``-`` and ``_`` is
            replaced, so the path can never leave the directory.
        suffix : str
            File suffix including the dot, e.g. ``".vot"``.
        """
        self._counter += 1
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:40] or "table"
        return self.path / f"{self._counter:05d}-{safe}{suffix}"

    def protect(self, path: Path) -> Path:
        """Make a file written in the directory readable by its owner only (0600)."""
        os.chmod(path, 0o600)
        return path

    def files(self) -> list[Path]:
        """The files currently in the directory."""
        return sorted(p for p in self.path.iterdir() if p.is_file())

    def cleanup(self) -> None:
        """Remove the directory and everything in it (idempotent)."""
        shutil.rmtree(self.path, ignore_errors=True)


def _is_loopback_host(host: str) -> bool:
    """True when ``host`` is a loopback address or a name that resolves only to loopback."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    )


def check_url(url: str, allow_remote: bool = False) -> urllib.parse.ParseResult:
    """Check a table URL against the service's policy.

    Parameters
    ----------
    url : str
        The URL received in a SAMP message.
    allow_remote : bool
        Also accept ``http``, ``https`` and ``ftp`` URLs on other hosts.

    Returns
    -------
    urllib.parse.ParseResult
        The parsed URL.

    Raises
    ------
    InputError
        When the URL is not a string, is malformed, uses another scheme, or points off this
        machine without ``allow_remote``.
    """
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"the table URL must be a non-empty string, got {url!r:.80}")
    try:
        parsed = urllib.parse.urlparse(url.strip())
        host = parsed.hostname
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InputError(f"malformed table URL {url!r:.200}: {exc}") from None
    scheme = parsed.scheme.lower()
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InputError(f"file URL on another host refused: {url!r:.200}")
        return parsed
    if scheme not in ("http", "https", "ftp") or not host:
        raise InputError(
            f"unsupported table URL {url!r:.200}: use file://, or http(s):// on this machine"
        )
    if not allow_remote and (scheme == "ftp" or not _is_loopback_host(host)):
        raise InputError(
            f"refusing to fetch {url!r:.200}: only file:// and loopback http(s) URLs are "
            "accepted (start the service with --allow-remote-urls to fetch remote tables)"
        )
    return parsed


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Apply :func:`check_url` to every redirect target."""

    def __init__(self, allow_remote: bool) -> None:
        self.allow_remote = allow_remote

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_url(newurl, self.allow_remote)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open_file_url(parsed: urllib.parse.ParseResult, url: str) -> BinaryIO:
    path = urllib.request.url2pathname(parsed.path)
    if not os.path.isabs(path):
        raise InputError(f"file URL without an absolute path: {url!r:.200}")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"cannot read {url!r:.200}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{url!r:.200} is not a regular file")
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise InputError(f"cannot read {url!r:.200}: {exc.strerror}") from None


def _chunks(stream: BinaryIO, url: str, max_bytes: int, deadline: float) -> Iterator[bytes]:
    total = 0
    while chunk := stream.read(CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise InputError(
                f"the table at {url!r:.200} is larger than the limit of {max_bytes:,} bytes "
                "(see --max-bytes)"
            )
        if time.monotonic() > deadline:
            raise InputError(f"fetching {url!r:.200} took too long")
        yield chunk


def fetch(
    url: str,
    dest: Path,
    *,
    allow_remote: bool,
    max_bytes: int,
    timeout: float,
) -> Path:
    """Copy the table at ``url`` into ``dest`` (created 0600, must not exist).

    Download *before* answering the SAMP call that carried the URL: STILTS and TOPCAT serve a
    sent table only until they get the reply.

    Parameters
    ----------
    url : str
        ``file://`` or ``http(s)://`` URL (see :func:`check_url`).
    dest : pathlib.Path
        Where to write the copy; normally from :meth:`PrivateDir.new_path`.
    allow_remote : bool
        Accept URLs on other hosts.
    max_bytes : int
        Refuse tables larger than this.
    timeout : float
        Seconds allowed for connecting and for the whole transfer.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    InputError
        On a refused URL, a transfer failure, an oversized table or a timeout.
    """
    parsed = check_url(url, allow_remote)
    deadline = time.monotonic() + timeout
    if parsed.scheme.lower() == "file":
        stream: BinaryIO = _open_file_url(parsed, url)
    else:
        handlers: list[urllib.request.BaseHandler] = [_CheckedRedirects(allow_remote)]
        if not allow_remote:
            handlers.append(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        opener = urllib.request.build_opener(*handlers)
        try:
            stream = opener.open(url, timeout=timeout)
        except InputError:
            raise
        except (OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise InputError(f"cannot fetch {url!r:.200}: {reason}") from None
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with stream, os.fdopen(fd, "wb") as out:
            for chunk in _chunks(stream, url, max_bytes, deadline):
                out.write(chunk)
    except InputError:
        dest.unlink(missing_ok=True)
        raise
    except (OSError, ValueError, http.client.HTTPException) as exc:
        dest.unlink(missing_ok=True)
        raise InputError(f"cannot fetch {url!r:.200}: {exc}") from None
    log.debug("fetched %s -> %s (%d bytes)", url, dest, dest.stat().st_size)
    return dest
