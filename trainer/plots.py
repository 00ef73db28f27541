"""Training-history plots (matplotlib, Agg): pure rendering from the history table."""

import os
from typing import Dict, List

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history: Dict[str, List[float]], folder: str) -> List[str]:
    """Writes accuracy.png, loss.png, learning_rate.png and overfitting_gap.png; returns paths."""
    os.makedirs(folder, exist_ok=True)
    epochs = list(range(1, len(history['loss']) + 1))
    paths = []

    def save(fig, name):
        path = os.path.join(folder, name)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)

    for metric in ('accuracy', 'loss'):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, history[metric], 'o-', label='train')
        ax.plot(epochs, history[f'val_{metric}'], 'o-', label='validation')
        ax.set(xlabel='epoch', ylabel=metric, title=f'{metric} per epoch')
        ax.legend()
        ax.grid(alpha=0.3)
        save(fig, f'{metric}.png')

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history['learning_rate'], 'o-')
    ax.set(xlabel='epoch', ylabel='learning rate', title='learning rate per epoch', yscale='log')
    ax.grid(alpha=0.3)
    save(fig, 'learning_rate.png')

    fig, ax = plt.subplots(figsize=(6, 4))
    acc_gap = [t - v for t, v in zip(history['accuracy'], history['val_accuracy'])]
    loss_gap = [v - t for t, v in zip(history['loss'], history['val_loss'])]
    ax.plot(epochs, acc_gap, 'o-', label='train - validation accuracy')
    ax.plot(epochs, loss_gap, 'o-', label='validation - train loss')
    ax.axhline(0, color='grey', lw=0.8)
    ax.set(xlabel='epoch', title='overfitting gap')
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, 'overfitting_gap.png')
    return paths
