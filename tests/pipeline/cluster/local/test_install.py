"""What the local clusters install: both job servers built from the versions install names, with
one server factory."""

import os


def _pom_properties(path):
    import xml.etree.ElementTree as ET
    ns = {'m': 'http://maven.apache.org/POM/4.0.0'}
    root = ET.parse(path).getroot()
    props = {child.tag.split('}')[1]: child.text for child in root.find('m:properties', ns)}
    source = root.find('m:build/m:sourceDirectory', ns)
    return props, None if source is None else source.text


def test_both_job_servers_are_built_from_the_versions_install_names_and_one_server_factory():
    from pipeline.cluster.local import install
    flink_props, _ = _pom_properties(install.FLINK_JOB_SERVER.pom)
    spark_props, source = _pom_properties(install.SPARK_JOB_SERVER.pom)
    assert flink_props['beam.version'] == spark_props['beam.version'] == \
        install.BEAM_JOB_SERVER_VERSION
    assert flink_props['flink.minor'] == install.FLINK_RUNNER_MINOR
    assert spark_props['spark.version'] == install.SPARK_VERSION
    assert source == '${project.basedir}/../jobserver/src/main/java'
    factories = [os.path.join(d, n) for d, _, names in os.walk(os.path.dirname(install.HERE))
                 for n in names if n == 'ServerFactory.java']
    assert len(factories) == 1, factories
    # Each jar is rebuilt when its own pom or the shared source changes, and only then.
    assert install._source_digest(install.FLINK_JOB_SERVER) != \
        install._source_digest(install.SPARK_JOB_SERVER)
