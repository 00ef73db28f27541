"""Flink's distribution and Beam's Flink job server, fetched once into the local cache.

- Flink: PyPI's ``apache-flink`` and ``apache-flink-libraries`` carry the whole distribution
  (``pyflink/lib/flink-dist-*.jar``, ``pyflink/bin/*.sh``, ``pyflink/conf/``). They are installed
  with ``pip --no-deps --target`` into the cache, never into the project's venv: apache-flink pins
  an apache-beam of its own, and only its jars and scripts are used here.
- Beam's Flink job server: the ready-made ``beam-runners-flink-<flink>-job-server`` jar is not
  served by the Maven registry this project can reach, for any Beam version; the runner itself
  (``beam-runners-flink-1.19``) and all its dependencies are, up to Beam 2.62.0 (later runner
  versions need a ``beam-runners-java-job-service`` that is not served). Maven packs them into
  one jar from ``pipeline/cluster/local/jobserver/pom.xml``, with Beam's gRPC ServerFactory replaced
  so that its servers listen only where they are told (see that folder).

Versions: Beam's Java runner 2.62.0 supports Flink 1.17-1.19; its jobs are submitted by this
project's Python SDK (apache-beam 2.77.0) through the portable job API, whose protocol is
stable across releases. Flink 1.19.3 is the newest 1.19 patch release on PyPI.
"""

import hashlib
import os
import shutil
import subprocess
import sys

FLINK_VERSION = '1.19.3'
BEAM_JOB_SERVER_VERSION = '2.62.0'
FLINK_RUNNER_MINOR = '1.19'

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
JOBSERVER_SOURCE = os.path.join(HERE, 'jobserver')
_JAR_NAME = (f'beam-runners-flink-{FLINK_RUNNER_MINOR}-job-server-{BEAM_JOB_SERVER_VERSION}'
             '-loopback.jar')


class MissingTool(RuntimeError):
    """A program the cluster needs (java, mvn) is not installed."""


def require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise MissingTool(f'{tool} not found: {hint}')
    return path


def flink_home(cache_dir: str) -> str:
    """The Flink distribution inside the cache (it may not be installed yet)."""
    return os.path.join(cache_dir, f'flink-{FLINK_VERSION}', 'pyflink')


def ensure_flink(cache_dir: str, log=print) -> str:
    """Installs Flink's PyPI wheels into the cache once; returns FLINK_HOME."""
    home = flink_home(cache_dir)
    if os.path.exists(os.path.join(home, 'lib', f'flink-dist-{FLINK_VERSION}.jar')):
        return home
    target = os.path.dirname(home)
    partial = f'{target}.partial-{os.getpid()}'
    log(f'Installing Flink {FLINK_VERSION} from PyPI into {target} (once, about 260 MB)')
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                    '--disable-pip-version-check', '--target', partial,
                    f'apache-flink=={FLINK_VERSION}', f'apache-flink-libraries=={FLINK_VERSION}'],
                   check=True)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(partial, target)  # complete or absent: an interrupted install is redone
    return home


def _source_digest() -> str:
    """What the job-server jar is built from; a change rebuilds it."""
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(JOBSERVER_SOURCE)):
        for name in sorted(files):
            if name == 'pom.xml' or name.endswith('.java'):
                with open(os.path.join(root, name), 'rb') as f:
                    digest.update(name.encode() + b'\0' + f.read())
    return digest.hexdigest()


def job_server_jar(cache_dir: str) -> str:
    return os.path.join(cache_dir, 'beam-job-server', _JAR_NAME)


def ensure_job_server(cache_dir: str, log=print) -> str:
    """Builds Beam's Flink job-server jar with Maven once (dependencies from Maven Central, about
    160 MB); returns its path."""
    jar = job_server_jar(cache_dir)
    stamp = f'{jar}.sha256'
    digest = _source_digest()
    if os.path.exists(jar) and os.path.exists(stamp) and open(stamp).read() == digest:
        return jar
    mvn = require('mvn', 'install Maven (Debian: apt-get install maven)')
    require('java', 'install Java 17 (Debian: apt-get install openjdk-17-jdk-headless)')
    build = os.path.join(os.path.dirname(jar), 'build')
    log(f'Building Beam {BEAM_JOB_SERVER_VERSION} Flink job server into {jar} (once)')
    subprocess.run([mvn, '-B', '-q', '-f', os.path.join(JOBSERVER_SOURCE, 'pom.xml'), 'package',
                    f'-Djobserver.build={build}'], check=True)
    os.replace(os.path.join(build, _JAR_NAME), jar)
    shutil.rmtree(build, ignore_errors=True)
    with open(stamp, 'w') as f:
        f.write(digest)
    return jar


def ensure_all(cache_dir: str, log=print) -> tuple:
    """(FLINK_HOME, job-server jar), installing what is missing."""
    require('java', 'install Java 17 (Debian: apt-get install openjdk-17-jdk-headless)')
    return ensure_flink(cache_dir, log), ensure_job_server(cache_dir, log)
