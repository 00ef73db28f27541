"""Test guards for the other runners: no reach beyond this machine, and listening addresses.

``offline()`` refuses, and fails on, any name lookup or connection beyond this machine made
from Python (downloads, Google APIs) and any start of the Flink job-server jar. gRPC's own
connections (C core) bypass it; they go only to the endpoints a test gives.
``listening_addresses(pid)`` lists where a process listens, to check that a local cluster's
services are reachable from this machine only.
"""

import contextlib
import ipaddress
import os
import socket
from typing import Set
from unittest import mock

_LOCAL_NAMES = {None, '', 'localhost', b'localhost'}


def _is_local(host) -> bool:
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def offline():
    """Within it, a lookup or connection beyond this machine, or a Flink job-server jar, is
    refused; leaving it fails if any was attempted (even when the caller caught the error)."""
    from apache_beam.runners.portability.flink_runner import FlinkRunner
    from apache_beam.utils.subprocess_server import JavaJarServer
    attempts = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def refuse(what):
        attempts.append(what)
        raise ConnectionRefusedError(f'tests are offline: {what}')

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            refuse(f'name lookup {host!r}')
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            refuse(f'connect {address!r}')
        return real_connect(sock, address)

    with mock.patch.object(socket, 'getaddrinfo', getaddrinfo), \
            mock.patch.object(socket.socket, 'connect', connect), \
            mock.patch.object(FlinkRunner, 'default_job_server',
                              side_effect=lambda *_: refuse('FlinkRunner.default_job_server')), \
            mock.patch.object(JavaJarServer, 'local_jar',
                              side_effect=lambda *_, **__: refuse('a job-server jar')):
        yield
    assert not attempts, f'the job tried to reach beyond this machine: {attempts}'


def listening_addresses(pid: int) -> Set[str]:
    """The local addresses (ip:port) on which process ``pid`` has TCP sockets in LISTEN (Linux)."""
    inodes = set()
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            target = os.readlink(f'/proc/{pid}/fd/{fd}')
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (('tcp', 4), ('tcp6', 16)):
        with open(f'/proc/{pid}/net/{table}') as f:
            next(f)
            for line in f:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state == '0A' and inode in inodes:  # 0A: LISTEN
                    found.add(_decode_address(local, width))
    return found


def _decode_address(text: str, width: int) -> str:
    host, port = text.split(':')
    raw = bytes.fromhex(host)
    # /proc prints each 32-bit word in host (little-endian) order.
    raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if width == 4 else socket.AF_INET6
    return f'{socket.inet_ntop(family, raw)}:{int(port, 16)}'
