"""How the lock of an object-store output tells a dead holder from a live one (no store
needed: the record alone decides)."""

import os
import subprocess
import sys
import time

from pipeline.runtime import lease


def _record(**fields):
    found = {'pid': os.getpid(), 'machine': lease._machine(),
             'pid_started': lease._pid_started(os.getpid()), 'expires': time.time() + 60}
    found.update(fields)
    return found


def test_on_this_machine_a_holder_is_alive_while_its_process_is():
    assert lease._machine() and lease._pid_started(os.getpid())
    assert not lease.is_dead(_record())
    assert not lease.is_dead(_record(expires=time.time() - 600))  # alive, lease or not
    gone = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)
    assert lease.is_dead(_record(pid=int(gone.stdout)))
    # The pid taken by another process since: its start time differs.
    assert lease.is_dead(_record(pid_started='1'))


def test_elsewhere_a_holder_is_alive_until_its_lease_ends():
    elsewhere = _record(machine='another-boot/pid:[1]')
    assert not lease.is_dead(elsewhere)
    assert lease.is_dead(elsewhere, now=elsewhere['expires'] + 1)
    assert not lease.is_dead(_record(machine=None), now=time.time())


def test_a_record_that_cannot_be_read_is_dead():
    assert lease.is_dead({}) and lease.is_dead({'expires': 'soon'})
