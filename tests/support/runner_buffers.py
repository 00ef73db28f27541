"""What the DirectRunner holds between the stages of a pipeline, in bytes.

Beam's in-process runner (the FnApiRunner under the DirectRunner) runs a pipeline stage by
stage. Whatever one stage hands to another is kept in memory, encoded, until the next stage
has read it: a ``ListBuffer`` for a collection that crosses a fusion break (a side input's
source, a collection two stages read) and a ``GroupingBuffer`` for a shuffle's input. That is
where a job that holds a collection whole holds it, so the peak of the bytes in those buffers,
all of them together, says whether a job's memory grows with the number of records. (A
shuffle's bytes count until the block ends: ``GroupingBuffer.clear`` keeps its table, so the
figure may overstate what is held, never understate it.)

``held_between_stages()`` counts them while a pipeline runs in this process:

    with held_between_stages() as held:
        cli.main(['preprocess', ...])
    held.peak_bytes

It patches the runner's two buffer classes for the duration of the block (Beam is pinned in
setup.py; a Beam that renames them fails the import here, loudly).
"""

import contextlib
from typing import Dict

from apache_beam.runners.portability.fn_api_runner import execution


class Held:
    """Bytes in the runner's live buffers: now, and the most at any moment."""

    def __init__(self):
        self.by_buffer: Dict[int, int] = {}
        self.now_bytes = 0
        self.peak_bytes = 0

    def add(self, buffer, size: int) -> None:
        self.by_buffer[id(buffer)] = self.by_buffer.get(id(buffer), 0) + size
        self.now_bytes += size
        self.peak_bytes = max(self.peak_bytes, self.now_bytes)

    def release(self, buffer) -> None:
        self.now_bytes -= self.by_buffer.pop(id(buffer), 0)


@contextlib.contextmanager
def held_between_stages():
    held = Held()
    list_buffer, grouping_buffer = execution.ListBuffer, execution.GroupingBuffer
    originals = {(list_buffer, 'append'): list_buffer.append,
                 (list_buffer, 'extend'): list_buffer.extend,
                 (list_buffer, 'clear'): list_buffer.clear,
                 (grouping_buffer, 'append'): grouping_buffer.append,
                 (grouping_buffer, 'clear'): grouping_buffer.clear}

    def append(original):
        def counted(self, element: bytes):
            held.add(self, len(element))
            return original(self, element)
        return counted

    def extend(self, extra):
        held.add(self, held.by_buffer.get(id(extra), 0))
        return originals[list_buffer, 'extend'](self, extra)

    def clear(original):
        def released(self):
            held.release(self)
            return original(self)
        return released

    list_buffer.append = append(originals[list_buffer, 'append'])
    list_buffer.extend = extend
    list_buffer.clear = clear(originals[list_buffer, 'clear'])
    grouping_buffer.append = append(originals[grouping_buffer, 'append'])
    grouping_buffer.clear = clear(originals[grouping_buffer, 'clear'])
    try:
        yield held
    finally:
        for (cls, name), original in originals.items():
            setattr(cls, name, original)
