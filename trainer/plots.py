"""Training-history plots (matplotlib, Agg): pure rendering from the history table."""

import os
from typing import Dict, List, Optional

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot_history(history: Dict[str, List[float]], folder: str,
                 best_epoch: Optional[int] = None, network: str = 'model') -> List[str]:
    """Writes accuracy.png, loss.png, learning_rate.png and overfitting_gap.png; returns paths.

    Epochs count from 1, on whole-number ticks; ``best_epoch`` (the one whose weights
    early stopping restored) is marked; ``network`` names what the curves are of (with
    the stacked recipe, the LSTM branch: the n-gram branch and the fusion have no epochs).
    """
    os.makedirs(folder, exist_ok=True)
    epochs = list(range(1, len(history['loss']) + 1))
    paths = []

    def finish(ax, title, name, legend=True):
        ax.set_title(f'{network}: {title}')
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, max(len(epochs), 1) + 0.5)
        if best_epoch:
            ax.axvline(best_epoch, color='#2a7', ls='--', lw=1.2,
                       label=f'restored: epoch {best_epoch}')
        if legend or best_epoch:
            ax.legend()
        ax.grid(alpha=0.3)
        fig = ax.figure
        path = os.path.join(folder, name)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)

    for metric in ('accuracy', 'loss'):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, history[metric], 'o-', label='train')
        ax.plot(epochs, history[f'val_{metric}'], 'o-', label='validation (eval split)')
        ax.set(ylabel=metric)
        finish(ax, f'{metric} per epoch', f'{metric}.png')

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history['learning_rate'], 'o-')
    ax.set(ylabel='learning rate', yscale='log')
    finish(ax, 'learning rate per epoch', 'learning_rate.png', legend=False)

    fig, ax = plt.subplots(figsize=(6, 4))
    acc_gap = [t - v for t, v in zip(history['accuracy'], history['val_accuracy'])]
    loss_gap = [v - t for t, v in zip(history['loss'], history['val_loss'])]
    ax.plot(epochs, acc_gap, 'o-', label='train - validation accuracy')
    ax.plot(epochs, loss_gap, 'o-', label='validation - train loss')
    ax.axhline(0, color='grey', lw=0.8)
    finish(ax, 'overfitting gap', 'overfitting_gap.png')
    return paths
