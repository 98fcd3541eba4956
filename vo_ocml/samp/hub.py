"""A standalone SAMP hub (``vo-ocml hub``) and where SAMP clients look for one.

The hub is pyvo's :class:`~pyvo.samp.SAMPHubServer` bound to 127.0.0.1, with the Web Profile
off unless asked for and pyvo's internet probing switched off. Its lockfile follows the SAMP
standard profile: ``$SAMP_HUB`` when it is ``std-lockurl:file://…``, else ``~/.samp``.
pyvo's own ``samp_hub`` script probes the internet at start-up and leaves its lockfile behind
on SIGTERM; :func:`run_hub` stops cleanly on SIGTERM and SIGINT and removes it. The hub class
also closes a race in pyvo's synchronous calls that loses fast replies (see :func:`_hub_class`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from vo_ocml.errors import ServiceError

if TYPE_CHECKING:
    from pyvo.samp import SAMPHubServer

log = logging.getLogger(__name__)

#: the standard-profile prefix of SAMP_HUB
LOCKURL_PREFIX = "std-lockurl:"


def lockfile_path() -> Path:
    """The hub lockfile that clients read and ``vo-ocml hub`` writes.

    Raises
    ------
    ServiceError
        When ``SAMP_HUB`` is set to something other than a ``std-lockurl:file:`` URL.
    """
    value = os.environ.get("SAMP_HUB")
    if not value:
        return Path.home() / ".samp"
    parsed = urlparse(value[len(LOCKURL_PREFIX) :]) if value.startswith(LOCKURL_PREFIX) else None
    if parsed is None or parsed.scheme != "file":
        raise ServiceError(
            f"SAMP_HUB={value!r} is not supported: use std-lockurl:file:///path/to/lockfile"
        )
    return Path(unquote(parsed.path))


def lockfile_signature() -> tuple[int, int, int] | None:
    """Identify the current lockfile (inode, size, mtime) so a new hub can be noticed."""
    try:
        info = lockfile_path().stat()
    except (OSError, ServiceError):
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def quiet_pyvo_samp() -> None:
    """Keep pyvo.samp on loopback: no internet probe, no host-name lookups, no warnings."""
    from pyvo.samp import conf

    conf.use_internet = False
    warnings.filterwarnings("ignore", module=r"pyvo\.samp.*")


#: longest wait of a synchronous reply for its call to be registered (see _hub_class)
SYNC_REPLY_WAIT = 5.0


def _hub_class() -> type[SAMPHubServer]:
    """pyvo's hub with its synchronous-reply race closed.

    ``SAMPHubServer._call_and_wait`` starts delivering the call before it registers the
    message id it waits on; a reply arriving in between (a fast ``samp.error``, on a loaded
    machine) is dropped and the caller times out (seen in this project's fuzz test; astropy
    issue #7985 looks like the same race). The subclass lets such a reply wait briefly for the
    id to appear before it is stored.
    """
    from pyvo.samp import SAMPHubServer

    class Hub(SAMPHubServer):
        def _reply_(self, responder_private_key: str, msg_id: str, response: Any) -> None:
            if isinstance(msg_id, str) and msg_id.endswith(";;samp::sync::call"):
                end = time.monotonic() + SYNC_REPLY_WAIT
                while (msg_id not in self._sync_msg_ids_heap and self._is_running
                       and time.monotonic() < end):
                    time.sleep(0.002)
            super()._reply_(responder_private_key, msg_id, response)

    return Hub


def start_hub(*, web_profile: bool = False, label: str = "vo-ocml hub") -> SAMPHubServer:
    """Start a SAMP hub in background threads and write its lockfile.

    Parameters
    ----------
    web_profile : bool
        Also serve the SAMP Web Profile (port 21012) for browser clients.
    label : str
        ``hub.label`` written to the lockfile.

    Returns
    -------
    pyvo.samp.SAMPHubServer
        The running hub; call its ``stop()`` to notify clients and remove the lockfile.

    Raises
    ------
    ServiceError
        When another hub is already running on the same lockfile, or SAMP_HUB is unusable.
    """
    quiet_pyvo_samp()
    from pyvo.samp.lockfile_helpers import check_running_hub, read_lockfile

    path = lockfile_path()
    if path.exists() and check_running_hub(str(path))[0]:
        raise ServiceError(f"a SAMP hub is already running (lockfile {path})")
    hub = _hub_class()(web_profile=web_profile, addr="127.0.0.1", label=label)
    hub.start(wait=False)
    written = read_lockfile(str(path)) if path.exists() else {}
    if written.get("samp.secret") != hub.params["samp.secret"]:  # lost a race with a hub
        hub.stop()
        raise ServiceError(f"could not write the SAMP lockfile {path}")
    log.info("SAMP hub running at %s (lockfile %s)", hub.params["samp.hub.xmlrpc.url"], path)
    return hub


def run_hub(*, web_profile: bool = False, stop: threading.Event | None = None) -> None:
    """Run a hub until SIGINT/SIGTERM (or ``stop`` is set), then stop it cleanly.

    Parameters
    ----------
    web_profile : bool
        Also serve the SAMP Web Profile.
    stop : threading.Event, optional
        Set it to stop the hub; signal handlers set it too when called from the main thread.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    hub = start_hub(web_profile=web_profile)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        hub.stop()
        log.info("SAMP hub stopped")
