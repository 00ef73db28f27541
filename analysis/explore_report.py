"""report.html of the explore job: charts and page from stats.json and the manifest.

Pure rendering (matplotlib Agg through ``analysis.render``, autoescaped Jinja2);
no Beam. Words and review excerpts are user input: they reach the page only as
escaped text, and inside charts only as PNG pixels.
"""

from typing import Dict, List

from analysis import render
from analysis.explore_stats import ALL, CHARS, LABELS, MEASURES, TOKENS, UNLABELED
from transforms import schema

TEMPLATE = 'explore.html'
COLORS = {ALL: '#444444', schema.POSITIVE: '#1a9850', schema.NEGATIVE: '#d73027',
          UNLABELED: '#4575b4'}
LOG_ODDS_SHOWN = 20
_UNITS = {CHARS: 'characters', TOKENS: 'tokens'}


def length_chart(stats: Dict):
    """Review length in characters and in tokens: share of each label's reviews per bin."""
    fig, axes = render.new_figure(12, 4, ncols=len(MEASURES))
    for ax, measure in zip(axes[0], MEASURES):
        chart = stats['length_charts'].get(measure)
        for label, shares in (chart or {}).get('shares', {}).items():
            ax.stairs(shares, chart['edges'], label=label, color=COLORS[label],
                      linewidth=2.2 if label == ALL else 1.4, linestyle=':' if label == ALL else '-')
        ax.set(title=f'Review length in {_UNITS[measure]} (last bin: p99 and longer)',
               xlabel=_UNITS[measure], ylabel='share of reviews')
        if chart:
            ax.legend()
    return fig


def top_words_chart(stats: Dict):
    """Horizontal bars of the most frequent content words (stop words out), one panel per
    label; the raw top words of every label are the same stop words."""
    lists = stats.get('top_content_words') or stats['top_words']
    longest = max([len(rows) for rows in lists.values()] + [1])
    fig, axes = render.new_figure(2.2 * len(lists), 1.5 + 0.2 * longest, ncols=len(lists))
    for ax, (label, rows) in zip(axes[0], lists.items()):
        rows = rows[::-1]   # barh draws from the bottom up
        ax.barh(range(len(rows)), [r['count'] for r in rows], color=COLORS[label])
        ax.set_yticks(range(len(rows)), [r['word'] for r in rows], fontsize=8)
        ax.set_title(f'Top content words:\n{label}', fontsize=10)
        ax.set_xlabel('occurrences', fontsize=8)
        ax.tick_params(axis='x', labelsize=7)
        ax.xaxis.set_major_formatter('{x:,.0f}')
    return fig


def log_odds_chart(stats: Dict):
    """The words leaning most to each label, by z-score of the smoothed log-odds ratio."""
    leaning = stats['log_odds']
    rows = (leaning[schema.NEGATIVE][:LOG_ODDS_SHOWN][::-1]
            + leaning[schema.POSITIVE][:LOG_ODDS_SHOWN][::-1])
    rows.sort(key=lambda r: r['z'])
    fig, axes = render.new_figure(8, 1.5 + 0.2 * max(len(rows), 1))
    ax = axes[0][0]
    ax.barh(range(len(rows)), [r['z'] for r in rows],
            color=[COLORS[schema.POSITIVE if r['z'] > 0 else schema.NEGATIVE] for r in rows])
    ax.set_yticks(range(len(rows)), [r['word'] for r in rows], fontsize=8)
    ax.axvline(0, color='black', linewidth=0.8)
    ax.set(title='Most discriminative words (log-odds, informative Dirichlet prior)',
           xlabel='z-score: negative  <-  0  ->  positive')
    return fig


def _curve(points: List, table: List, marker: int, marker_text: str, title: str,
           xlabel: str, ylabel: str, log_x: bool):
    fig, axes = render.new_figure(8, 4)
    ax = axes[0][0]
    if points:
        ax.plot(*zip(*points), color=COLORS[ALL])
        ax.plot(*zip(*table), 'o', color=COLORS[UNLABELED], markersize=4)
    ax.axvline(marker, color=COLORS[schema.NEGATIVE], linestyle='--', linewidth=1,
               label=marker_text)
    if log_x:
        ax.set_xscale('log')
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right' if log_x else 'upper right')
    return fig


def charts(stats: Dict) -> Dict[str, str]:
    """Chart name -> PNG data URI."""
    figures = {
        'lengths': length_chart(stats),
        'top-words': top_words_chart(stats),
        'log-odds': log_odds_chart(stats),
        'coverage': _curve(
            stats['coverage']['curve'], stats['coverage']['table'], schema.DEFAULT_VOCAB_TOP_K,
            f'preprocess --vocab-size default ({schema.DEFAULT_VOCAB_TOP_K:,})',
            'Share of all tokens covered by the N most frequent words',
            'vocabulary size N (log scale)', 'share of tokens', log_x=True),
        'truncation': _curve(
            stats['truncation']['curve'], stats['truncation']['table'],
            schema.DEFAULT_MAX_TOKENS,
            f'preprocess --max-tokens default ({schema.DEFAULT_MAX_TOKENS})',
            'Share of reviews longer than N tokens (truncated by --max-tokens N)',
            'N tokens', 'share of reviews', log_x=False),
    }
    return {name: render.figure_to_data_uri(fig) for name, fig in figures.items()}


def render_report(stats: Dict, manifest: Dict) -> str:
    """The self-contained HTML page."""
    return render.render_template(
        TEMPLATE, stats=stats, manifest=manifest, charts=charts(stats), labels=LABELS,
        sides=(schema.POSITIVE, schema.NEGATIVE),
        measures=[(m, _UNITS[m]) for m in MEASURES],
        defaults={'vocab_size': schema.DEFAULT_VOCAB_TOP_K,
                  'max_tokens': schema.DEFAULT_MAX_TOKENS})
