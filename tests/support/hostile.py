"""A corpus of hostile input files, written by the tests that use it, with what each job must
make of every record: accepted whole (with its exact text), or rejected for a named reason.

Every text a review can hold is here: newlines inside quoted fields (LF, CRLF, lone CR),
U+0085, U+2028/2029, NUL, tabs, quotes, commas, markup, right-to-left text and emoji; and
what careless hands produce: an unterminated quote, a row with too many fields, bytes that
are not UTF-8, blank reviews, unknown labels, ids repeated within a file and across files, a
gzip copy, a very long review, a file and a folder whose names hold glob characters (each
beside a decoy that the glob would match), and an aclImdb folder holding things that are not
reviews (an upper-case .TXT, a subfolder, a broken link).
"""

import csv
import glob
import gzip
import io
import os
from typing import Dict, List, Tuple

from transforms import schema

# Texts that must survive every job byte for byte.
ODD_TEXTS = [
    'Line one.\nLine two of the same review.',
    'Windows lines.\r\nSecond line, and a "quoted" word, positive',
    'A lone carriage return\rinside.',
    'NEXT LINE\u0085here and LINE SEPARATOR\u2028and PARAGRAPH\u2029too.',
    'A NUL \x00 byte and a tab\tin it.',
    'Regards.<br /><br />",positive\nstill the same review',
    '<script>alert(1)</script> "",,"" right-to-left \u05e9\u05dc\u05d5\u05dd and emoji \U0001F3AC',
    'Ends with a backslash \\',
]
LABELS = ['positive', 'negative']
LONG_CHARS = 154_000


def _csv_bytes(rows, header=('review', 'sentiment')) -> bytes:
    out = io.StringIO(newline='')
    writer = csv.writer(out)  # quotes fields with newlines, quotes, commas, as pandas does
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode('utf-8')


def write_corpus(folder: str) -> Dict[str, Dict]:
    """Writes the corpus into ``folder``; returns {file name: {'path', 'accepted': {id: review},
    'rejected': {id: reason}}} for the jobs that need a label (preprocess). Jobs that take
    unlabelled reviews accept the missing/unknown-label rows too: see ``expected``."""
    os.makedirs(folder, exist_ok=True)
    corpus = {}

    rows = [(t, LABELS[i % 2]) for i, t in enumerate(ODD_TEXTS)]
    data = _csv_bytes(rows)
    name = 'odd.csv'
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)
    accepted = {f'{name}:{i + 1}': t for i, (t, _) in enumerate(rows)}
    corpus[name] = {'accepted': accepted, 'rejected': {}}

    # The same records gzipped: the same ids under the .gz name.
    gz = 'odd-copy.csv.gz'
    with open(os.path.join(folder, gz), 'wb') as f:
        f.write(gzip.compress(data))
    corpus[gz] = {'accepted': {k.replace(name, gz): v for k, v in accepted.items()},
                  'rejected': {}}

    # Careless rows, then an unterminated quote whose continuation lines look like rows.
    name = 'careless.csv'
    good = [('A fine film.', 'positive'), ('Dull.', 'negative')]
    body = _csv_bytes(good)
    body += b'too,many,fields,here\n'
    body += b'caf\xe9 is latin-1,positive\n'
    body += b'   ,positive\n'
    body += b'A review with an odd label,brilliant\n'
    body += b'A review without a label,\n'
    body += b'"Quote opened, never closed,positive\n'
    body += b'This looks like a row,negative\n'
    body += b'And so does this,positive\n'
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(body)
    corpus[name] = {
        'accepted': {f'{name}:1': 'A fine film.', f'{name}:2': 'Dull.'},
        'rejected': {f'{name}:3': schema.REASON_MALFORMED,
                     f'{name}:4': schema.REASON_UNDECODABLE,
                     f'{name}:5': schema.REASON_EMPTY,
                     f'{name}:6': schema.REASON_UNKNOWN_LABEL,
                     f'{name}:7': schema.REASON_MISSING_LABEL,
                     f'{name}:8': schema.REASON_MALFORMED},  # with the two lines after it
    }

    # An id column with a repeated id: the second use goes to the dead letters.
    name = 'ids.csv'
    data = _csv_bytes([('r1', 'Good.', 'positive'), ('r2', 'Bad.', 'negative'),
                       ('r1', 'Also good.', 'positive')], header=('id', 'review', 'sentiment'))
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)
    corpus[name] = {'accepted': {'r1': 'Good.', 'r2': 'Bad.'},
                    'rejected': {f'{name}:3': schema.REASON_DUPLICATE_ID}}

    # The same id column across files: an id given in ids.csv already is a repeat here too.
    name = 'ids-more.csv'
    data = _csv_bytes([('r2', 'Bad again.', 'negative'), ('r3', 'Fine.', 'positive')],
                      header=('id', 'review', 'sentiment'))
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)
    corpus[name] = {'accepted': {'r3': 'Fine.'},
                    'rejected': {f'{name}:1': schema.REASON_DUPLICATE_ID}}

    # Glob characters in a name: the file is read as named, never its look-alike.
    name = 'bracket[1].csv'
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(_csv_bytes([('The bracketed file.', 'positive')]))
    with open(os.path.join(folder, 'bracket1.csv'), 'wb') as f:  # what the glob would match
        f.write(_csv_bytes([('The decoy, never read.', 'negative')]))
    corpus[name] = {'accepted': {f'{name}:1': 'The bracketed file.'}, 'rejected': {}}

    # An aclImdb folder with a glob character in its name and entries that are not reviews.
    name = 'acl[1]'
    for acl, text in ((name, 'A bracketed folder review.'), ('acl1', 'The decoy folder.')):
        for label in ('pos', 'neg'):
            os.makedirs(os.path.join(folder, acl, label), exist_ok=True)
        with open(os.path.join(folder, acl, 'pos', '0_9.txt'), 'w', encoding='utf-8') as f:
            f.write(text)
    with open(os.path.join(folder, name, 'neg', '1_2.TXT'), 'w', encoding='utf-8') as f:
        f.write('Not a .txt name.')
    os.makedirs(os.path.join(folder, name, 'neg', 'notes'))
    os.symlink(os.path.join(folder, 'nowhere.txt'), os.path.join(folder, name, 'neg', '2_1.txt'))
    corpus[name] = {'accepted': {f'{name}/pos/0_9.txt': 'A bracketed folder review.'},
                    'rejected': {}, 'skipped': 3}

    # A very long review, in one quoted field with newlines.
    name = 'long.csv'
    long_text = ('A long, long review.\n' * (LONG_CHARS // 21 + 1))[:LONG_CHARS]
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(_csv_bytes([(long_text, 'positive'), ('Short.', 'negative')]))
    corpus[name] = {'accepted': {f'{name}:1': long_text, f'{name}:2': 'Short.'},
                    'rejected': {}}

    for name, entry in corpus.items():
        entry['path'] = os.path.join(folder, name)
    return corpus


def expected(corpus: Dict[str, Dict], require_label: bool, max_review_chars: int
             ) -> Tuple[Dict[str, str], Dict[str, str]]:
    """({id: review} accepted, {id: reason} rejected) over the whole corpus for a job."""
    accepted, rejected = {}, {}
    for entry in corpus.values():
        accepted.update(entry['accepted'])
        rejected.update(entry['rejected'])
    if not require_label:
        for rid, reason in list(rejected.items()):
            if reason == schema.REASON_MISSING_LABEL:
                del rejected[rid]
                accepted[rid] = 'A review without a label'
    for rid, text in list(accepted.items()):
        if len(text) > max_review_chars:
            del accepted[rid]
            rejected[rid] = schema.REASON_TOO_LONG
    return accepted, rejected


def paths(corpus: Dict[str, Dict]) -> List[str]:
    return [e['path'] for e in corpus.values()]


def snapshot(folder) -> Dict[str, bytes]:
    """Every file under ``folder`` with its bytes: compare before and after a job."""
    return {p: open(p, 'rb').read() for p in glob.glob(os.path.join(folder, '**'), recursive=True)
            if os.path.isfile(p)}
