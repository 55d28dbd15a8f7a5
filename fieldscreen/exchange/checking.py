"""Checking batches, in this process or in a second one that runs one batch ahead.

Checking a batch (decryption, hashes, strict parsing, the signature) and storing one take
about as long as each other; on a two-core laptop they overlap when a second process
checks the next batch, and seals its records for storage, while this one stores the
current one. That process imports only this module and what it needs (no SQLite, no Qt),
so it is ready in a fraction of a second; until it is, batches are checked here.

The second process holds the coordinator's age identity and the imported records' key,
received over its pipe at its start; it ends with the import, and at once if the importer
dies (its pipe closes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import pickle
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from fieldscreen.errors import UserError
from fieldscreen.exchange.batch import BatchRefused, verify_batch
from fieldscreen.store.crypto import AgeIdentity, FieldCipher
from fieldscreen.store.incoming import Device, seal_incoming

# What a check gives: ("ok", (VerifiedBatch, its records' sealed (summary, payload) or
# None when they are still to seal)), ("refused", (code, reason, device id, batch id)) or
# ("failed", the name of the unforeseen exception): plain data that pickles.
CheckResult = tuple[str, Any]


def check_batch(data: bytes, identity: AgeIdentity, find_device: Callable[[bytes], Any],
                demo: bool, cipher: FieldCipher | None = None) -> CheckResult:
    """verify_batch, with its outcome as plain data that can cross to another process.

    With `cipher`, a batch that passes also has its records sealed for storage, and its
    records' `line` is then empty.
    """
    try:
        verified = verify_batch(data, identity=identity, find_device=find_device, demo=demo)
    except BatchRefused as refusal:
        return "refused", (refusal.code.value, refusal.reason, refusal.device_id,
                           refusal.batch_id)
    except UserError:
        raise  # a storage problem on this side: stop and say so
    except Exception as error:
        return "failed", type(error).__name__
    if cipher is None:
        return "ok", (verified, None)
    sealed = seal_incoming(cipher, verified.records)
    # The lines now travel sealed; sending them in clear as well would double what the
    # importer has to receive.
    emptied = tuple(record._replace(line=b"") for record in verified.records)
    return "ok", (dataclasses.replace(verified, records=emptied), sealed)


_PIPE_BYTES = 1 << 20  # a batch crosses in two writes instead of thirty (Linux)
_READY = b"ready"  # the checking process's first message


def _widen(connection: Connection) -> None:
    """Ask for a 1 MiB pipe where the system allows it; the default 64 KiB makes a
    batch cross in many small copies, each waking the other process."""
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _serve(requests: Connection, results: Connection, identity_secret: str,
           records_key: bytes, devices: dict[bytes, Device], demo: bool,
           language: str) -> None:
    """The checking process: check (and seal) each batch it receives, answer in order.

    When the importer is gone (finished, crashed or killed), its end of the pipe closes
    and this process exits at once: it holds the coordinator's identity.
    """
    import os

    from fieldscreen.i18n import set_language

    set_language(language)  # refusal reasons in the coordinator's language
    identity = AgeIdentity(identity_secret)
    cipher = FieldCipher(records_key)
    try:
        results.send_bytes(_READY)
        while True:
            data = requests.recv_bytes()
            try:
                result = check_batch(data, identity, devices.get, demo, cipher)
            except BaseException as error:  # not even a storage error can happen here
                result = ("failed", type(error).__name__)
            results.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    except (EOFError, OSError):
        os._exit(0)


class BatchChecker:
    """Checks batches for one import: in a second process once it has started, here
    before that (and whenever that process fails).

    Two threads move batches to the second process and its answers back, so handing a
    batch over never waits for that process to be free, and an answer is received (and
    unpickled) while this process waits on the disk. Answers come back in the order
    batches were submitted.

    Args:
        identity: the coordinator's age identity.
        records_key: the key imported records are sealed with (the second process seals
            them; here they are sealed when stored).
        devices: the enrolled devices by public key, as the import began.
        demo: whether the coordinator is a training one.
        language: the language of refusal reasons.
    """

    def __init__(self, identity: AgeIdentity, records_key: bytes,
                 devices: dict[bytes, Device], demo: bool, language: str) -> None:
        self._identity = identity
        self._devices = devices
        self._demo = demo
        # Spawned, not forked: the coordinator's process may run Qt threads.
        context = multiprocessing.get_context("spawn")
        requests_end, requests = context.Pipe(duplex=False)
        results, results_end = context.Pipe(duplex=False)
        # Widened once here: the size belongs to the pipe, so both ends get it.
        _widen(requests)
        _widen(results)
        self._process = context.Process(
            target=_serve, name="fieldscreen-batch-checker", daemon=True,
            args=(requests_end, results_end, identity.secret, records_key, devices, demo,
                  language))
        self._process.start()
        # The child has its own copies: closing ours lets each side see the other go.
        requests_end.close()
        results_end.close()
        self._outgoing: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[CheckResult | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._gone = threading.Event()
        self._threads = [
            threading.Thread(target=self._send, args=(requests,), daemon=True,
                             name="batches-out"),
            threading.Thread(target=self._receive, args=(results,), daemon=True,
                             name="answers-in"),
        ]
        for thread in self._threads:
            thread.start()
        self._here: dict[int, CheckResult] = {}
        self._tickets = 0
        self.checked_elsewhere = 0  # how many batches the second process checked

    def _send(self, requests: Connection) -> None:
        with requests:
            while (data := self._outgoing.get()) is not None:
                try:
                    requests.send_bytes(data)
                except OSError:
                    self._gone.set()
                    return

    def _receive(self, results: Connection) -> None:
        with results:
            try:
                if results.recv_bytes() != _READY:
                    raise EOFError
                self._ready.set()
                while True:
                    self._answers.put(pickle.loads(results.recv_bytes()))  # noqa: S301
            except (EOFError, OSError):
                self._gone.set()
                self._answers.put(None)

    def _started(self) -> bool:
        return self._ready.is_set() and not self._gone.is_set()

    def wait_until_started(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until the second process takes batches."""
        self._ready.wait(timeout)
        return self._started()

    def submit(self, data: bytes) -> int:
        """Start checking `data`; gives the ticket to pass to `result`, in turn."""
        ticket = self._tickets
        self._tickets += 1
        if self._started():
            self._outgoing.put(data)
            self.checked_elsewhere += 1
        else:
            self._here[ticket] = check_batch(data, self._identity, self._devices.get,
                                             self._demo)
        return ticket

    def result(self, ticket: int) -> CheckResult:
        """The CheckResult of the oldest batch not yet taken (tickets are taken in
        order). EOFError if the second process ended before answering: check that batch
        again here."""
        if ticket in self._here:
            return self._here.pop(ticket)
        answer = self._answers.get()
        if answer is None:
            self._answers.put(None)  # and for every batch still waiting
            raise EOFError("the checking process ended before answering")
        return answer

    def close(self) -> None:
        """End the second process: closing its pipe ends it (it is killed if stuck)."""
        self._outgoing.put(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        for thread in self._threads:
            thread.join(timeout=5)
