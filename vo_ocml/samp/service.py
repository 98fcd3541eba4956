"""The SAMP membership service behind ``vo-ocml listen``.

Threads and their duties:

* pyvo's XML-RPC threads run the message handlers. Handlers only log and enqueue: a table
  is never fetched or processed there, so the hub is never kept waiting.
* One worker thread takes jobs in arrival order: fetch the table (before replying, because
  STILTS and TOPCAT serve a table only until they get the reply), run the pipeline
  (:func:`vo_ocml.samp.jobs.process`), reply ``samp.ok`` (naming the new table) or
  ``samp.error`` (with the reason), then send ``table.load.votable`` with the annotated table
  and ``table.select.rowList`` with the member rows, as the job's options ask (several-cluster
  runs: then one table per cluster and the clusters' summary table, see
  :class:`vo_ocml.samp.jobs.Outcome`).
* A watcher thread registers with the hub, checks now and then that the registration still
  holds, and after ``samp.hub.event.shutdown``, ``samp.hub.disconnect`` or a vanished hub,
  registers again with exponential backoff (retrying at once when the lockfile changes).

Every message received and sent is logged at INFO level (``vo-ocml listen -v``).
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vo_ocml import __version__
from vo_ocml.errors import VoOcmlError, describe_unexpected, samp_spelling
from vo_ocml.samp.hub import lockfile_signature, quiet_pyvo_samp
from vo_ocml.samp.jobs import TABLE_MTYPES, Job, Outcome, process
from vo_ocml.samp.messages import brief, documentation_url, samp_value
from vo_ocml.samp.options import ServiceSettings
from vo_ocml.samp.transfer import PrivateDir

if TYPE_CHECKING:
    from pyvo.samp import SAMPIntegratedClient

log = logging.getLogger(__name__)

#: ``samp.name`` of the service; peers with this name never get its broadcasts
SAMP_NAME = "vo-ocml"
#: hub notifications that end the current registration
HUB_EVENTS = ("samp.hub.event.shutdown", "samp.hub.disconnect")
#: first wait before registering again, in seconds
FIRST_BACKOFF = 0.25


def error_text(exc: BaseException) -> str:
    """The ``samp.errortxt`` for an exception: its message, naming unexpected types."""
    if isinstance(exc, VoOcmlError):
        return " ".join(exc.render(samp_spelling).split()) or exc.__class__.__name__
    return describe_unexpected(exc)


class MembershipService:
    """A SAMP client that answers tables with their cluster members.

    Parameters
    ----------
    settings : ServiceSettings
        Default job options, limits and the URL policy.

    Examples
    --------
    >>> service = MembershipService(ServiceSettings())   # doctest: +SKIP
    >>> service.start(); service.wait(); service.stop()   # doctest: +SKIP
    """

    def __init__(self, settings: ServiceSettings | None = None) -> None:
        quiet_pyvo_samp()
        self.settings = settings or ServiceSettings()
        self.workdir = PrivateDir()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._client: SAMPIntegratedClient | None = None
        self._client_lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._stopping = threading.Event()
        self._exit = threading.Event()
        self._hub_lost = threading.Event()
        self._registered = threading.Event()
        self._worker = threading.Thread(target=self._work, name="vo-ocml-worker", daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="vo-ocml-hub", daemon=True)
        #: how many times the service has registered with a hub
        self.registrations = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the worker and the hub watcher (registration happens in the background)."""
        self._worker.start()
        self._watcher.start()

    def wait_registered(self, timeout: float | None = None) -> bool:
        """Block until registered with a hub; False on timeout."""
        return self._registered.wait(timeout)

    @property
    def public_id(self) -> str | None:
        """The service's public id on the current hub, or None while unregistered."""
        client = self._client
        return client.get_public_id() if client is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`request_exit` (or a hub shutdown with ``exit_on_hub_shutdown``).

        Returns
        -------
        bool
            True when an exit was requested, False on timeout.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while not self._exit.wait(0.5 if end is None else min(0.5, end - time.monotonic())):
            if end is not None and time.monotonic() >= end:
                return False
        return True

    def request_exit(self) -> None:
        """Ask :meth:`wait` to return (safe from signal handlers and other threads)."""
        self._exit.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop cleanly: refuse queued tables, finish the current one, unregister, clean up.

        Parameters
        ----------
        timeout : float
            Seconds to wait for the table being processed before leaving it behind.
        """
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._exit.set()
        self._hub_lost.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout)
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._answer_error(job, "vo-ocml is shutting down; the table was not processed")
        self._jobs.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout)
        self._disconnect()
        self.workdir.cleanup()
        log.info("stopped; removed %s", self.workdir.path)

    # ------------------------------------------------------------------ hub connection
    def _metadata(self) -> dict[str, str]:
        metadata = {
            "samp.name": SAMP_NAME,
            "samp.description.text": "Open-cluster membership for Gaia tables: send a table, "
            "get it back with membership probabilities (ocml_prob) and the members selected.",
            "vo-ocml.version": __version__,
            "author.name": "vo_ocml developers",
        }
        url = documentation_url()
        if url:
            metadata["samp.documentation.url"] = url
        return metadata

    def _connect(self) -> None:
        from pyvo.samp import SAMPIntegratedClient

        client = SAMPIntegratedClient(metadata=self._metadata(), addr="127.0.0.1")
        client.connect()
        try:
            for mtype in TABLE_MTYPES:
                client.bind_receive_call(mtype, self._on_call, declare=False)
                client.bind_receive_notification(mtype, self._on_notification, declare=False)
            client.bind_receive_call("samp.app.ping", self._on_ping, declare=False)
            for mtype in HUB_EVENTS:
                client.bind_receive_notification(mtype, self._on_hub_event, declare=False)
            client.declare_subscriptions()
        except Exception:
            self._disconnect_client(client)
            raise
        with self._client_lock:
            self._client = client
            self._names.clear()
        self._hub_lost.clear()
        self.registrations += 1
        self._registered.set()
        log.info(
            "registered as %s with the hub at %s",
            client.get_public_id(),
            client.hub.lockfile.get("samp.hub.xmlrpc.url"),
        )

    @staticmethod
    def _disconnect_client(client: SAMPIntegratedClient) -> None:
        try:
            client.disconnect()
        except Exception as exc:  # the hub may be gone already: stop our side anyway
            log.debug("unregistering failed (%s); stopping the client", error_text(exc))
            if client.client is not None and client.client.is_running:
                client.client.stop()
            client.hub.disconnect()

    def _disconnect(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        self._registered.clear()
        if client is not None:
            self._disconnect_client(client)

    def _still_registered(self) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            client.get_metadata(client.get_public_id())
        except Exception as exc:
            log.warning("lost the SAMP hub (%s)", error_text(exc))
            return False
        return True

    def _sleep_until_hub(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less when the lockfile changes or the service stops."""
        before = lockfile_signature()
        end = time.monotonic() + delay
        while time.monotonic() < end and not self._stopping.is_set():
            if lockfile_signature() != before:
                return
            self._stopping.wait(0.1)

    def _watch(self) -> None:
        backoff = FIRST_BACKOFF
        while not self._stopping.is_set():
            if self._client is None:
                try:
                    self._connect()
                    backoff = FIRST_BACKOFF
                except Exception as exc:
                    log.info("no SAMP hub yet (%s); retrying in %.2g s", exc, backoff)
                    self._sleep_until_hub(backoff)
                    backoff = min(2 * backoff, self.settings.max_backoff)
                continue
            announced = self._hub_lost.wait(self.settings.hub_check_interval)
            if self._stopping.is_set():
                break
            if announced or not self._still_registered():
                self._disconnect()
                if announced and self.settings.exit_on_hub_shutdown:
                    log.info("the hub shut down; exiting")
                    self._exit.set()
                    break
                log.info("waiting for a SAMP hub to register again")

    # ------------------------------------------------------------------ handlers
    def _name(self, client_id: str) -> str:
        """A peer's ``samp.name`` ("" when unknown or gone), cached per registration."""
        if client_id not in self._names:
            client = self._client
            try:
                metadata = client.get_metadata(client_id) if client is not None else {}
                self._names[client_id] = str(metadata.get("samp.name", ""))
            except Exception:  # the peer may have gone
                return ""
        return self._names[client_id]

    def _peer(self, client_id: str) -> str:
        """``samp.name (id)`` of a peer, for logs."""
        name = self._name(client_id)
        return f"{name} ({client_id})" if name else client_id

    def _enqueue(self, job: Job) -> None:
        if self._stopping.is_set():
            self._answer_error(job, "vo-ocml is shutting down; the table was not processed")
            return
        self._jobs.put(job)
        log.info("queued %s from %s (%d waiting)", job.mtype, job.sender, self._jobs.qsize())

    def _on_call(
        self, private_key: str, sender: str, msg_id: str, mtype: str, params: Any, extra: Any
    ) -> None:
        log.info("received call %s from %s, msg-id %s: %s", mtype, sender, msg_id, brief(params))
        self._enqueue(Job(mtype, sender, params if isinstance(params, Mapping) else {}, msg_id))

    def _on_notification(
        self, private_key: str, sender: str, mtype: str, params: Any, extra: Any
    ) -> None:
        log.info("received notification %s from %s: %s", mtype, sender, brief(params))
        self._enqueue(Job(mtype, sender, params if isinstance(params, Mapping) else {}))

    def _on_ping(
        self, private_key: str, sender: str, msg_id: str, mtype: str, params: Any, extra: Any
    ) -> None:
        log.info("received call samp.app.ping from %s, msg-id %s", sender, msg_id)
        self._reply(Job(mtype, sender, {}, msg_id), {"samp.status": "samp.ok", "samp.result": {}})

    def _on_hub_event(
        self, private_key: str, sender: str, mtype: str, params: Any, extra: Any
    ) -> None:
        log.info("received notification %s from the hub: %s", mtype, brief(params))
        self._hub_lost.set()

    # ------------------------------------------------------------------ worker
    def _warm_up(self) -> None:
        """Import the pipeline and the default method's estimator before the first table."""
        t0 = time.perf_counter()
        try:
            from vo_ocml.membership import estimator_class

            importlib.import_module("vo_ocml.pipeline")

            estimator_class(self.settings.defaults.run.method)
        except Exception as exc:  # the first table will report the problem
            log.warning("could not preload the %s method: %s", self.settings.defaults.run.method,
                        error_text(exc))
            return
        log.info("pipeline loaded in %.1f s", time.perf_counter() - t0)

    def _work(self) -> None:
        self._warm_up()
        while (job := self._jobs.get()) is not None:
            try:
                self._handle(job)
            except Exception:  # never let one table kill the worker
                log.exception("failed to answer %s from %s", job.mtype, job.sender)

    def _handle(self, job: Job) -> None:
        from threadpoolctl import threadpool_limits

        t0 = time.perf_counter()
        try:
            with threadpool_limits(limits=self.settings.threads):
                outcome = process(job, self.settings, self.workdir)
        except Exception as exc:  # every failure is answered; the service stays up
            log.warning("%s from %s refused: %s", job.mtype, self._peer(job.sender), error_text(exc))
            # a bug's traceback is logged with -v; an expected refusal's with -vv
            log.log(logging.DEBUG if isinstance(exc, VoOcmlError) else logging.INFO, "details",
                    exc_info=True)
            self._answer_error(job, error_text(exc))
            return
        log.info(
            "%s: %d rows, %d members, processed in %.2f s (waited %.2f s)",
            outcome.table_id,
            outcome.nrows,
            len(outcome.members),
            time.perf_counter() - t0,
            t0 - job.received,
        )
        self._reply(job, {"samp.status": "samp.ok", "samp.result": outcome.result()})
        if outcome.options.broadcast:
            self._send_table(job, outcome)
        if outcome.options.select:
            self._send_rows(job, outcome)

    def _answer_error(self, job: Job, text: str) -> None:
        self._reply(
            job,
            {"samp.status": "samp.error", "samp.error": {"samp.errortxt": text, "samp.code": "vo-ocml"}},
        )

    def _reply(self, job: Job, response: dict[str, Any]) -> None:
        if job.msg_id is None:
            return
        client = self._client
        try:
            if client is None:
                raise ConnectionError("not registered with a hub")
            client.reply(job.msg_id, samp_value(response))
            log.info("sent reply to %s, msg-id %s: %s", job.sender, job.msg_id, brief(response))
        except Exception as exc:
            log.warning("could not reply to %s: %s", job.sender, error_text(exc))

    def _recipients(self, job: Job, mtype: str, to: str) -> list[str]:
        client = self._client
        if client is None:
            return []
        me = client.get_public_id()
        subscribed = list(client.get_subscribed_clients(mtype))
        if to == "sender":
            return [job.sender] if job.sender in subscribed else []
        return [c for c in subscribed if c != me and self._name(c) != SAMP_NAME]

    def _call(self, recipient: str, tag: str, message: dict[str, Any]) -> None:
        client = self._client
        if client is None:
            return
        client.bind_receive_response(tag, self._on_response)
        client.call(recipient, tag, samp_value(message))
        log.info(
            "sent call %s to %s: %s", message["samp.mtype"], self._peer(recipient),
            brief(message["samp.params"]),
        )

    def _on_response(self, private_key: str, responder: str, tag: str, response: Any) -> None:
        status = response.get("samp.status") if isinstance(response, Mapping) else response
        log.info("received response to %s from %s: %s", tag, self._peer(responder), status)
        client = self._client
        try:
            if client is not None:
                client.unbind_receive_response(tag)
        except Exception:  # bound on a previous registration
            pass

    def _send(self, job: Job, outcome: Outcome, mtype: str, params: dict[str, Any]) -> None:
        try:
            recipients = self._recipients(job, mtype, outcome.options.to)
            if not recipients:
                log.info("%s not sent: no %s subscribed to it", mtype, outcome.options.to)
            for n, recipient in enumerate(recipients):
                tag = f"{mtype}:{outcome.table_id}:{n}"
                self._call(recipient, tag, {"samp.mtype": mtype, "samp.params": params})
        except Exception as exc:
            log.warning("could not send %s for %s: %s", mtype, outcome.table_id, error_text(exc))

    def _send_table(self, job: Job, outcome: Outcome) -> None:
        params = {"url": outcome.url, "table-id": outcome.table_id, "name": outcome.name}
        self._send(job, outcome, "table.load.votable", params)
        for path, table_id, name in outcome.extra_tables:  # several-cluster runs
            params = {"url": path.as_uri(), "table-id": table_id, "name": name}
            self._send(job, outcome, "table.load.votable", params)

    def _send_rows(self, job: Job, outcome: Outcome) -> None:
        if len(outcome.members) == 0:
            log.info("no member rows in %s: table.select.rowList not sent", outcome.table_id)
            return
        url = str(job.params.get("url"))
        table_id = job.params.get("table-id")
        params = {
            "table-id": table_id if isinstance(table_id, str) and table_id else url,
            "url": url,
            "row-list": [str(int(i)) for i in outcome.members],
        }
        self._send(job, outcome, "table.select.rowList", params)
