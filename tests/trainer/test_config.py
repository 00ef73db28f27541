"""The model's configuration: validated, and every field explained by train --help."""

import pytest

from pipeline import cli
from trainer.config import ModelConfig

pytestmark = pytest.mark.e2e


def test_config_is_validated():
    with pytest.raises(ValueError):
        ModelConfig(pooling='attention')
    with pytest.raises(ValueError):
        ModelConfig(dropout=1.0)


def test_every_config_field_has_help_text_shown_by_train_help(capsys):
    import dataclasses
    fields = dataclasses.fields(ModelConfig)
    missing = [f.name for f in fields if len(f.metadata.get('help', '').split()) < 5]
    assert not missing, f'fields without help text: {missing}'
    with pytest.raises(SystemExit) as stopped:
        cli.main(['train', '--help'])
    assert stopped.value.code == 0
    # argparse wraps lines: compare with every run of whitespace made one space.
    shown = ' '.join(capsys.readouterr().out.split())
    for field in fields:
        flag = '--' + field.name.replace('_', '-')
        help_text = ' '.join(field.metadata['help'].split())
        assert f'{help_text} (default {field.default})' in shown, flag
        assert flag in shown
