"""Reconciling a job's counts: every record read ends in exactly one place."""

from typing import Dict

from transforms import schema
from transforms.errors import CountsDoNotReconcile


def counts_summary(counts: Dict[str, int], max_reject_fraction: float) -> Dict:
    """The manifest's counts block, with ``status`` 'ok' or 'failed' and ``error``.

    Raises CountsDoNotReconcile when read != accepted + rejected.
    """
    read, accepted, rejected = (counts.get(k, 0) for k in ('read', 'accepted', 'rejected'))
    if read != accepted + rejected:
        raise CountsDoNotReconcile(f'read {read} != accepted {accepted} + rejected {rejected}')
    by_reason = {r: counts.get(schema.rejected_count_key(r), 0) for r in schema.REASONS}
    summary = {'read': read, 'accepted': accepted, 'rejected': rejected,
               'rejected_by_reason': by_reason, 'status': 'ok', 'error': None}
    for key in ('train', 'eval', 'unlabeled_read', 'unlabeled', 'unlabeled_rejected'):
        if key in counts:
            summary[key] = counts[key]
    share = rejected / read if read else 0.0
    if read == 0:
        summary.update(status='failed', error='no records were read')
    elif share > max_reject_fraction:
        summary.update(status='failed', error=(
            f'{rejected} of {read} records rejected ({share:.2%}) exceeds '
            f'--max-reject-fraction {max_reject_fraction}; see the rejected/ folder'))
    return summary
