"""Training's log: periodic lines without a terminal, the learning rate rounded and said with
the epoch it follows, history.csv counting epochs from 1."""

import csv
import logging

import numpy as np


def _fit(tmp_path, callbacks, epochs=3):
    import keras
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype('float32')
    y = (x[:, 0] > 0).astype('float32')
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation='sigmoid')])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='binary_crossentropy',
                  metrics=['accuracy'])
    # min_delta larger than any improvement: the rate halves after every epoch but the
    # first (the first always improves on no loss at all).
    reduce = keras.callbacks.ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=0,
                                               min_delta=10.0, verbose=0)
    return model.fit(x, y, validation_data=(x, y), epochs=epochs, batch_size=8, verbose=0,
                     callbacks=[reduce, *callbacks])


def test_epoch_lines_say_the_rounded_rate_and_its_reduction(tmp_path, caplog):
    from trainer.callbacks import EpochsFromOne, TrainingLog
    caplog.set_level(logging.INFO, logger='trainer.task')
    _fit(tmp_path, [TrainingLog(every_s=0.0, bar=False),
                    EpochsFromOne(str(tmp_path / 'history.csv'))])
    lines = [r.getMessage() for r in caplog.records]
    epochs = [line for line in lines if line.startswith('Epoch ') and ' s): ' in line]
    assert len(epochs) == 3
    assert epochs[0].endswith('learning rate 0.001')
    assert epochs[1].endswith('learning rate 0.001, reduced to 0.0005 for the next epoch')
    assert epochs[2].endswith('learning rate 0.0005')  # the last: no next epoch to announce
    assert not any('0.0005000000' in line for line in lines)
    # Batch lines between epochs (every_s=0: each batch), with the batch count.
    assert any(line.startswith('Epoch 1/3: training, batch 8/8 (100%)') for line in lines)
    with open(tmp_path / 'history.csv', newline='') as f:
        assert [row['epoch'] for row in csv.DictReader(f)] == ['1', '2', '3']


def test_with_a_progress_bar_the_reduction_follows_the_epoch(tmp_path, caplog):
    from trainer.callbacks import TrainingLog
    caplog.set_level(logging.INFO, logger='trainer.task')
    _fit(tmp_path, [TrainingLog(bar=True)], epochs=3)
    lines = [r.getMessage() for r in caplog.records]
    # Said when epoch 3 begins, after the bar's line for epoch 2; epoch 3's reduction has no
    # next epoch to announce.
    assert lines == ['Learning rate reduced to 0.0005 (from 0.001) for epoch 3']


def test_each_epoch_records_its_training_and_validation_seconds_and_steps(tmp_path):
    from trainer.callbacks import TrainingLog
    log = TrainingLog(bar=False)
    history = _fit(tmp_path, [log], epochs=2)
    assert [part['steps'] for part in log.epoch_parts] == [8, 8]  # 64 rows, batches of 8
    for part in log.epoch_parts:
        assert part['train_s'] > 0 and part['validate_s'] > 0
    # A later evaluate outside fit is no epoch's validation.
    history.model.evaluate(np.zeros((8, 4), 'float32'), np.zeros(8, 'float32'), verbose=0,
                           callbacks=[log])
    assert len(log.epoch_parts) == 2
