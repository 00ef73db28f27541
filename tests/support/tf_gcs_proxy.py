"""TensorFlow's own GCS client sent to the emulator, for the tests: an HTTPS proxy on 127.0.0.1.

TensorFlow's ``gs://`` file system (C++, libcurl) ignores ``STORAGE_EMULATOR_HOST``: it always
asks ``https://www.googleapis.com`` (and ``storage.googleapis.com`` for reads). It does honour
``https_proxy`` and ``CURL_CA_BUNDLE``, so ``Proxy`` answers each ``CONNECT`` with TLS under a
certificate of a throwaway CA made for the test, and hands every request inside to the emulator
over plain HTTP. ``GOOGLE_AUTH_TOKEN_FOR_TESTING`` spares TensorFlow the look-up of
credentials. The emulator's resumable-upload locations name 127.0.0.1, which ``NO_PROXY`` (set
by ``gcs_emulator.emulator_env``) sends straight there. Needed where a job hands a ``gs://``
path to TensorFlow itself (tf.Transform's temporary files, written while the graph is built).
The product's code knows nothing of this.
"""

import datetime
import http.client
import os
import socket
import ssl
import threading
import urllib.parse
from typing import BinaryIO, Dict, List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOSTS = ['www.googleapis.com', 'storage.googleapis.com']
_HOP_BY_HOP = {'host', 'proxy-connection', 'connection', 'expect', 'transfer-encoding',
               'content-length', 'keep-alive'}


def _certificate(subject: str, key, issuer: Optional[x509.Certificate], issuer_key,
                 hosts: List[str]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.subject if issuer else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1)))
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _write_certificates(folder: str) -> Tuple[str, str, str]:
    """(the CA's PEM, the servers' certificate, its key), written into ``folder``."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate('imdb-sentiment test CA', ca_key, None, None, [])
    leaf = _certificate(HOSTS[0], key, ca, ca_key, HOSTS)
    paths = tuple(os.path.join(folder, n) for n in ('tf-proxy-ca.pem', 'tf-proxy.pem',
                                                     'tf-proxy.key'))
    for path, data in zip(paths, (
            ca.public_bytes(serialization.Encoding.PEM),
            leaf.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))):
        with open(path, 'wb') as f:
            f.write(data)
    return paths


def _read_body(reader: BinaryIO, headers: Dict[str, str]) -> bytes:
    if 'chunked' in headers.get('transfer-encoding', '').lower():
        body = b''
        while True:
            size = int(reader.readline().split(b';')[0], 16)
            if size == 0:
                while reader.readline() not in (b'\r\n', b'\n', b''):
                    pass
                return body
            body += reader.read(size)
            reader.readline()
    length = int(headers.get('content-length', 0))
    return reader.read(length) if length else b''


def _read_headers(reader: BinaryIO) -> Dict[str, str]:
    headers = {}
    for line in iter(reader.readline, b''):
        if line in (b'\r\n', b'\n'):
            break
        name, value = line.decode('latin-1').split(':', 1)
        headers[name.strip().lower()] = value.strip()
    return headers


class Proxy:
    """The proxy, serving threads of this process until ``close()``; a context manager."""

    def __init__(self, emulator_url: str, folder: str):
        self._emulator = urllib.parse.urlsplit(emulator_url).netloc
        self.ca, cert, key = _write_certificates(folder)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._server = socket.create_server(('127.0.0.1', 0))
        self.url = f'http://127.0.0.1:{self._server.getsockname()[1]}'
        threading.Thread(target=self._accept, daemon=True).start()

    def env(self) -> Dict[str, str]:
        """What a process needs for its TensorFlow to reach the emulator through the proxy."""
        return {'https_proxy': self.url, 'HTTPS_PROXY': self.url, 'CURL_CA_BUNDLE': self.ca,
                'GOOGLE_AUTH_TOKEN_FOR_TESTING': 'emulator', 'NO_GCE_CHECK': 'true'}

    def close(self) -> None:
        self._server.close()

    def __enter__(self) -> 'Proxy':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:   # closed
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            reader = client.makefile('rb')
            connect = reader.readline()
            _read_headers(reader)
            if not connect.startswith(b'CONNECT '):
                client.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n')
                return
            client.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
            with self._tls.wrap_socket(client, server_side=True) as tls:
                reader, writer = tls.makefile('rb'), tls.makefile('wb')
                for request in iter(reader.readline, b''):
                    if not request.strip():
                        return
                    self._forward(request, reader, writer)

    def _forward(self, request: bytes, reader: BinaryIO, writer: BinaryIO) -> None:
        method, path, _ = request.decode('latin-1').split(' ', 2)
        headers = _read_headers(reader)
        body = _read_body(reader, headers)
        upstream = http.client.HTTPConnection(self._emulator, timeout=60)
        try:
            upstream.request(method, path, body=body, headers={
                k: v for k, v in headers.items() if k not in _HOP_BY_HOP})
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        writer.write(f'HTTP/1.1 {response.status} {response.reason}\r\n'.encode('latin-1'))
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                writer.write(f'{name}: {value}\r\n'.encode('latin-1'))
        writer.write(b'Content-Length: %d\r\n\r\n' % len(data) + data)
        writer.flush()
