"""Flink's and Spark's distributions and Beam's job servers for them, fetched once into the cache.

- Flink: PyPI's ``apache-flink`` and ``apache-flink-libraries`` carry the whole distribution
  (``pyflink/lib/flink-dist-*.jar``, ``pyflink/bin/*.sh``, ``pyflink/conf/``). Spark: PyPI's
  ``pyspark`` carries Spark's jars (``pyspark/jars/``, Scala 2.12, which Beam's Spark 3 runner
  needs), so ``pyspark/`` is a SPARK_HOME. Both are installed with ``pip --no-deps --target``
  into the cache, never into the project's venv: apache-flink pins an apache-beam of its own,
  and only their jars and scripts are used here.
- Beam's job servers: the ready-made ``beam-runners-flink-<flink>-job-server`` and
  ``beam-runners-spark-3-job-server`` jars are not served by the Maven registry this project can
  reach, for any Beam version; the runners themselves (``beam-runners-flink-1.19``,
  ``beam-runners-spark-3``) and all their dependencies are, up to Beam 2.62.0 (later runner
  versions need a ``beam-runners-java-job-service`` that is not served: 2.70.0's runner asks for
  job-service 2.70.0, the newest served is 2.65.0). Maven packs each into one jar from
  ``jobserver/pom.xml`` (Flink) and ``jobserver-spark/pom.xml`` (Spark), both with Beam's gRPC
  ServerFactory replaced by the one in ``jobserver/src`` so that its servers listen only where
  they are told.

Versions: Beam's Java runners 2.62.0 support Flink 1.17-1.19 and Spark 3 (built against 3.2.2;
the Spark job server packs the cluster's Spark, 3.5.9, and runs on it unchanged); their jobs are
submitted by this project's Python SDK (apache-beam 2.77.0) through the portable job API (what
that skew risks: the README, "On a cluster"). Flink 1.19.3 and Spark 3.5.9 are the newest 1.19
and 3.5 patch releases on PyPI.
"""

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
from typing import List, Tuple

FLINK_VERSION = '1.19.3'
SPARK_VERSION = '3.5.9'
BEAM_JOB_SERVER_VERSION = '2.62.0'
FLINK_RUNNER_MINOR = '1.19'

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
JOBSERVER_SOURCE = os.path.join(HERE, 'jobserver')
_JAVA_HINT = 'install Java 17 (Debian: apt-get install openjdk-17-jdk-headless)'


@dataclasses.dataclass(frozen=True)
class JobServer:
    """One engine's job-server build: its pom (beside or away from the shared Java sources)
    and the jar it makes."""
    engine: str
    pom: str
    jar_name: str


FLINK_JOB_SERVER = JobServer(
    'Flink', os.path.join(JOBSERVER_SOURCE, 'pom.xml'),
    f'beam-runners-flink-{FLINK_RUNNER_MINOR}-job-server-{BEAM_JOB_SERVER_VERSION}-loopback.jar')
SPARK_JOB_SERVER = JobServer(
    'Spark', os.path.join(HERE, 'jobserver-spark', 'pom.xml'),
    f'beam-runners-spark-3-job-server-{BEAM_JOB_SERVER_VERSION}-spark{SPARK_VERSION}-loopback.jar')


class MissingTool(RuntimeError):
    """A program the cluster needs (java, mvn) is not installed."""


def require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise MissingTool(f'{tool} not found: {hint}')
    return path


def _pip_into_cache(target: str, packages: List[str], what: str, log=print) -> None:
    """``pip install --no-deps --target`` into ``target``, complete or absent: an interrupted
    install is redone."""
    partial = f'{target}.partial-{os.getpid()}'
    log(f'Installing {what} from PyPI into {target} (once)')
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                    '--disable-pip-version-check', '--target', partial, *packages], check=True)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(partial, target)


def flink_home(cache_dir: str) -> str:
    """The Flink distribution inside the cache (it may not be installed yet)."""
    return os.path.join(cache_dir, f'flink-{FLINK_VERSION}', 'pyflink')


def ensure_flink(cache_dir: str, log=print) -> str:
    """Installs Flink's PyPI wheels into the cache once (about 260 MB); returns FLINK_HOME."""
    home = flink_home(cache_dir)
    if not os.path.exists(os.path.join(home, 'lib', f'flink-dist-{FLINK_VERSION}.jar')):
        _pip_into_cache(os.path.dirname(home), [f'apache-flink=={FLINK_VERSION}',
                                                f'apache-flink-libraries=={FLINK_VERSION}'],
                        f'Flink {FLINK_VERSION}', log)
    return home


def spark_home(cache_dir: str) -> str:
    """The Spark distribution inside the cache (it may not be installed yet)."""
    return os.path.join(cache_dir, f'pyspark-{SPARK_VERSION}', 'pyspark')


def ensure_spark(cache_dir: str, log=print) -> str:
    """Installs PyPI's pyspark into the cache once (about 350 MB); returns SPARK_HOME."""
    home = spark_home(cache_dir)
    if not os.path.exists(os.path.join(home, 'jars', f'spark-core_2.12-{SPARK_VERSION}.jar')):
        _pip_into_cache(os.path.dirname(home), [f'pyspark=={SPARK_VERSION}'],
                        f'Spark {SPARK_VERSION}', log)
    return home


def _source_digest(server: JobServer) -> str:
    """What a job-server jar is built from (its pom, then the shared Java sources); a change
    rebuilds it."""
    digest = hashlib.sha256()
    paths = [server.pom]
    for root, _, files in sorted(os.walk(JOBSERVER_SOURCE)):
        paths += [os.path.join(root, name) for name in sorted(files) if name.endswith('.java')]
    for path in paths:
        with open(path, 'rb') as f:
            digest.update(os.path.basename(path).encode() + b'\0' + f.read())
    return digest.hexdigest()


def job_server_jar(cache_dir: str, server: JobServer = FLINK_JOB_SERVER) -> str:
    return os.path.join(cache_dir, 'beam-job-server', server.jar_name)


def ensure_job_server(cache_dir: str, log=print, server: JobServer = FLINK_JOB_SERVER) -> str:
    """Builds a Beam job-server jar with Maven once (dependencies from Maven Central: about
    160 MB for Flink, 370 MB for Spark); returns its path."""
    jar = job_server_jar(cache_dir, server)
    stamp = f'{jar}.sha256'
    digest = _source_digest(server)
    if os.path.exists(jar) and os.path.exists(stamp) and open(stamp).read() == digest:
        return jar
    mvn = require('mvn', 'install Maven (Debian: apt-get install maven)')
    require('java', _JAVA_HINT)
    build = os.path.join(os.path.dirname(jar), f'build-{server.engine.lower()}')
    log(f'Building Beam {BEAM_JOB_SERVER_VERSION} {server.engine} job server into {jar} (once)')
    subprocess.run([mvn, '-B', '-q', '-f', server.pom, 'package', f'-Djobserver.build={build}'],
                   check=True)
    os.replace(os.path.join(build, server.jar_name), jar)
    shutil.rmtree(build, ignore_errors=True)
    with open(stamp, 'w') as f:
        f.write(digest)
    return jar


def ensure_all(cache_dir: str, log=print) -> Tuple[str, str]:
    """(FLINK_HOME, Flink job-server jar), installing what is missing."""
    require('java', _JAVA_HINT)
    return ensure_flink(cache_dir, log), ensure_job_server(cache_dir, log)


def ensure_spark_all(cache_dir: str, log=print) -> Tuple[str, str]:
    """(SPARK_HOME, Spark job-server jar), installing what is missing."""
    require('java', _JAVA_HINT)
    return ensure_spark(cache_dir, log), ensure_job_server(cache_dir, log, SPARK_JOB_SERVER)
