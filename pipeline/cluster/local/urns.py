"""The Beam model's URNs on both sides of the version skew between this project's Python SDK
(Beam 2.77) and the local clusters' job servers (Beam 2.62): README, "On a cluster".

``jar_urns(jar)``: every URN that the model protos packed in a job-server jar name (what its
runner can know). ``sdk_urns()``: the same for the Python SDK. ``used(pipeline)``: the URNs a
pipeline proto, as a portable runner submits it, uses, by what reads them: the transforms the
runner translates itself (impulse, group by key, flatten, reshuffle, and any leaf without an SDK
environment), those the SDK workers execute, composites, coders, window functions, side-input
access patterns, environments and the pipeline's requirements. The runner must know the kinds
in ``RUNNER_READS``; a coder it does not know it length-prefixes and never reads, and what runs
in an SDK environment is the SDK's business.
"""

import re
import zipfile
from typing import Dict, Iterator, Set

_URN = re.compile(r'beam_(?:urn|constant)\)\s*=\s*"([^"]+)"')
RUNNER_READS = ('runner_transforms', 'window_fns', 'side_inputs', 'environments', 'requirements')


def jar_urns(jar: str) -> Set[str]:
    found = set()
    with zipfile.ZipFile(jar) as z:
        for name in z.namelist():
            if name.startswith('org/apache/beam/model/') and name.endswith('.proto'):
                found.update(_URN.findall(z.read(name).decode('utf-8')))
    return found


def sdk_urns() -> Set[str]:
    from apache_beam.portability.api import (beam_fn_api_pb2, beam_runner_api_pb2,
                                             external_transforms_pb2, metrics_pb2, schema_pb2,
                                             standard_window_fns_pb2)
    options = (beam_runner_api_pb2.beam_urn, beam_runner_api_pb2.beam_constant)
    found = set()

    def enums(descriptor) -> Iterator:
        yield from descriptor.enum_types_by_name.values()
        for message in descriptor.message_types_by_name.values():
            yield from _nested(message)

    def _nested(message) -> Iterator:
        yield from message.enum_types
        for inner in message.nested_types:
            yield from _nested(inner)

    for module in (beam_runner_api_pb2, beam_fn_api_pb2, metrics_pb2, standard_window_fns_pb2,
                   schema_pb2, external_transforms_pb2):
        for enum in enums(module.DESCRIPTOR):
            for value in enum.values:
                for option in options:
                    text = value.GetOptions().Extensions[option]
                    if text:
                        found.add(text)
    return found


def used(pipeline) -> Dict[str, Set[str]]:
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_runner_api_pb2
    components = pipeline.components
    found = {key: set() for key in ('runner_transforms', 'sdk_transforms', 'composites', 'coders',
                                    'window_fns', 'side_inputs', 'environments', 'requirements')}
    # What Beam's portable runner leaves to every portable runner (Flink, Spark) to translate.
    primitives = {common_urns.composites.RESHUFFLE.urn, common_urns.primitives.IMPULSE.urn,
                  common_urns.primitives.FLATTEN.urn, common_urns.primitives.GROUP_BY_KEY.urn}
    for transform in components.transforms.values():
        urn = transform.spec.urn
        if urn in primitives or not (transform.subtransforms or transform.environment_id):
            found['runner_transforms'].add(urn)
        else:
            found['composites' if transform.subtransforms else 'sdk_transforms'].add(urn)
        if urn == common_urns.primitives.PAR_DO.urn:
            payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            found['side_inputs'].update(s.access_pattern.urn for s in payload.side_inputs.values())
    found['coders'] = {c.spec.urn for c in components.coders.values()}
    found['window_fns'] = {w.window_fn.urn for w in components.windowing_strategies.values()}
    found['environments'] = {e.urn for e in components.environments.values()}
    found['requirements'] = set(pipeline.requirements)
    return {key: urns - {''} for key, urns in found.items()}
