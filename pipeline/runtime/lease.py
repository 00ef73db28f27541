"""The lock of an output on an object store: a lease object, created only if absent.

An object store has no ``flock`` that dies with its process, so the lock of ``gs://b/out``
is the object ``gs://b/out.lock``, holding its holder's record (pid, host, start time, a
random token) and the time its lease ends:

- Taking it: create the object only if there is none (``ifGenerationMatch=0``). Of two runs,
  one creates it; the other finds it and, while its holder lives, fails fast (``OutputLocked``,
  exit 75, from ``guard.OutputLock``).
- Holding it: a thread renews the lease every ``LEASE_S / 4`` by a compare-and-swap on the
  generation it wrote last. A renewal that finds another generation means the lease was taken
  over (this run stalled past it): the run no longer holds the lock. Before it commits, a run
  reads the lock's generation once more (``held``), and stops if it is not its own.
- Telling a dead holder from a live one: on the same machine (same boot and pid namespace) the
  holder is dead when its pid is gone or is another process (start time); elsewhere, when its
  lease has ended, by the taker's clock (machines' clocks must agree to well within
  ``LEASE_S * 3 / 4``, as NTP keeps them). A dead holder's lock is taken over by a
  compare-and-swap on the generation read, so of two runs taking over, one wins.
- Giving it back: delete it only if it is still the generation this run wrote.
"""

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Dict, Optional

from pipeline.runtime import object_store
from transforms.jsonio import parse_json_object, utc_now

_LOG = logging.getLogger(__name__)
LEASE_S = 120.0
_TRIES = 5


def _machine() -> Optional[str]:
    """This boot of this machine and this pid namespace: where a pid means one process."""
    try:
        with open('/proc/sys/kernel/random/boot_id', encoding='ascii') as f:
            return f'{f.read().strip()}/{os.readlink("/proc/self/ns/pid")}'
    except OSError:
        return None


def _pid_started(pid: int) -> Optional[str]:
    """When process ``pid`` started (clock ticks since boot), or None when there is none."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


def is_dead(holder: Dict, now: Optional[float] = None) -> bool:
    """Whether the run that wrote the lock record ``holder`` is gone (see the module doc).
    A record that cannot be read is dead: nothing could ever renew it."""
    try:
        expires = float(holder['expires'])
    except (KeyError, TypeError, ValueError):
        return True
    machine = _machine()
    if machine is not None and holder.get('machine') == machine:
        return _pid_started(int(holder.get('pid', -1))) != holder.get('pid_started')
    return (time.time() if now is None else now) > expires


class Lease:
    """The lease object ``path`` (see the module doc)."""

    def __init__(self, path: str):
        self.path = path
        self._token = uuid.uuid4().hex
        self._started = utc_now()
        self._generation: Optional[int] = None
        self._lost = False
        self._mutex = threading.Lock()  # a renewal and a check never interleave
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _record(self) -> bytes:
        return json.dumps({
            'pid': os.getpid(), 'host': socket.gethostname(), 'started': self._started,
            'machine': _machine(), 'pid_started': _pid_started(os.getpid()),
            'expires': time.time() + LEASE_S, 'lease_s': LEASE_S, 'token': self._token,
            'renewed': utc_now(),
        }, sort_keys=True).encode()

    def acquire(self) -> Optional[Dict]:
        """Takes the lock: None when taken, or the record of the live run that holds it."""
        holder: Dict = {}
        for _ in range(_TRIES):
            generation = object_store.create_new(self.path, self._record())
            if generation is None:
                found = object_store.read_versioned(self.path)
                if found is None:
                    continue  # given back between the two requests: try again
                holder = parse_json_object(found[0]) or {}
                if not is_dead(holder):
                    return holder
                generation = object_store.replace_if(self.path, self._record(), found[1])
                if generation is None:
                    continue  # renewed, or taken over by another run first: look again
                _LOG.warning('Took over the lock %s of a run that is gone (pid %s on %s)',
                             self.path, holder.get('pid', '?'), holder.get('host', '?'))
            self._generation = generation
            self._thread = threading.Thread(target=self._renew, name='lease-renewal',
                                            daemon=True)
            self._thread.start()
            return None
        return holder

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_S / 4):
            with self._mutex:
                try:
                    generation = object_store.replace_if(self.path, self._record(),
                                                         self._generation)
                except Exception as e:  # an outage: try again at the next tick
                    _LOG.warning('Could not renew the lock %s: %s', self.path, e)
                    continue
                if generation is None:
                    self._lost = True
                    _LOG.error('The lock %s was taken over by another run: this run stops '
                               'before it publishes', self.path)
                    return
                self._generation = generation

    def held(self) -> bool:
        """Whether this run still holds the lock: asked of the store (one read), so that a
        run that stalled past its lease learns it before its renewal would."""
        with self._mutex:
            if self._generation is None or self._lost:
                return False
            found = object_store.read_versioned(self.path)
            self._lost = found is None or found[1] != self._generation
            return not self._lost

    def release(self) -> None:
        """Gives the lock back, unless another run has taken it over."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self._generation is not None and not self._lost:
            try:
                object_store.delete(self.path, self._generation)
            except Exception as e:  # the job's own outcome stands; the lease runs out
                _LOG.warning('Could not give back the lock %s (%s); it is taken over once '
                             'this process has ended', self.path, e)
        self._generation = None

