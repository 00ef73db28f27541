"""The raw-text export: it serves without the preprocess output, and in TensorFlow's session
loader."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.support.networks import eval_scores, rebuilt_network

pytestmark = pytest.mark.e2e


_RELOAD = '''
import json, sys
import tensorflow as tf
texts = json.load(sys.stdin)
examples = [tf.train.Example(features=tf.train.Features(feature={'review': tf.train.Feature(
    bytes_list=tf.train.BytesList(value=[t.encode()]))})).SerializeToString() for t in texts]
served = []
for path in sys.argv[1:]:
    loaded = tf.saved_model.load(path)
    out = loaded.signatures['serving_default'](reviews=tf.constant(texts))
    by_example = loaded.signatures['serving_examples'](examples=tf.constant(examples))
    served.append({'p': out['probability'].numpy().tolist(),
                   'label': [x.decode() for x in out['label'].numpy()],
                   'p_examples': by_example['probability'].numpy().tolist(),
                   'modules': sorted(m for m in ('keras', 'tf_keras', 'tensorflow_transform')
                                     if m in sys.modules)})
print(json.dumps(served))
'''


def test_export_serves_raw_text_without_the_preprocess_output(trained, tmp_path):
    """Training/serving skew: the trained network on the TFRecords vs the export on raw text.

    The fixture's folders stay as they are (other tests share them): the network is exported
    again, as the train job does, from a copy of the preprocess output that is then deleted;
    the job's export and this one both serve raw text."""
    import tensorflow_transform as tft
    from trainer import export
    network = rebuilt_network(trained['model'])
    ids, scores, _ = eval_scores(network, trained['preprocess'])
    texts = [trained['rows'][int(i.split(':')[1]) - 1][0] for i in ids]
    pre, again = str(tmp_path / 'preprocess'), str(tmp_path / 'model')
    shutil.copytree(trained['preprocess'], pre)
    export.export(network, tft.TFTransformOutput(pre), again)
    shutil.rmtree(pre)  # the export must not need it

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    proc = subprocess.run([sys.executable, '-c', _RELOAD, trained['model'], again],
                          input=json.dumps(texts), capture_output=True, text=True, env=env,
                          check=True)
    for served in json.loads(proc.stdout.strip().splitlines()[-1]):
        assert len(served['p']) == len(texts) > 20
        np.testing.assert_allclose(served['p'], scores, atol=1e-5)
        np.testing.assert_allclose(served['p_examples'], scores, atol=1e-5)
        assert served['label'] == ['positive' if p > 0.5 else 'negative' for p in served['p']]
        assert 'keras' not in served['modules']  # loading needs no Keras at all


def test_export_serves_in_the_session_loader(trained, tmp_path):
    """TensorFlow Serving and ``saved_model_cli run`` load with the session (TF1) loader: it
    restores the checkpoint and runs the init op, which fills the tf.Transform tables from
    assets/. Both signatures give tf.saved_model.load's outputs, from a copy of the export
    in another folder (it reads no file outside itself)."""
    import tensorflow as tf
    model = shutil.copytree(trained['model'], str(tmp_path / 'moved'))
    # No ';' in the texts: saved_model_cli splits its input expressions there.
    texts = ['A wonderful, moving film!', 'Boring and awful. A waste.', '',
             'Très <b>bien</b> ♥ 日本語']
    expected = tf.saved_model.load(model).signatures['serving_default'](
        reviews=tf.constant(texts))
    inputs = {'serving_default': ['--input_exprs', f'reviews={texts!r}'],
              'serving_examples': ['--input_examples',
                                   f'examples={[{"review": [t]} for t in texts]!r}']}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    for signature, args in inputs.items():
        out = tmp_path / signature
        proc = subprocess.run(
            [sys.executable, '-m', 'tensorflow.python.tools.saved_model_cli', 'run',
             '--dir', model, '--tag_set', 'serve', '--signature_def', signature, *args,
             '--outdir', str(out)], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        np.testing.assert_allclose(np.load(out / 'probability.npy'),
                                   expected['probability'].numpy(), atol=1e-5)
        for key in ('label', 'num_tokens', 'num_oov'):
            assert np.load(out / f'{key}.npy', allow_pickle=True).tolist() == \
                expected[key].numpy().tolist(), (signature, key)
