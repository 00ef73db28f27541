"""Rendering helpers: line breaks, numbers, and the template environment's escaping and data
URIs."""

import base64
import os

import pytest

from analysis import render
from analysis.render import lines, number


def test_line_breaks_and_numbers():
    assert lines('one<br />two<BR>three<br/>') == ['one', 'two', 'three', '']
    assert number(25000) == '25,000' and number(25000.0) == '25,000'
    assert number(0.12345, 3) == '0.123' and number(None) == ''


def test_render_helpers():
    fig, axes = render.new_figure(2, 2)
    axes[0][0].plot([0, 1], [0, 1])
    uri = render.figure_to_data_uri(fig)
    assert base64.b64decode(uri.split(',', 1)[1]).startswith(b'\x89PNG')
    html = render.environment().from_string('<img src="{{ u | data_uri }}">{{ t }}').render(
        u=uri, t='<b>&"')
    assert html.endswith('&lt;b&gt;&amp;&#34;')
    with pytest.raises(ValueError):
        render.environment().from_string('{{ u | data_uri }}').render(u='javascript:alert(1)')


def test_every_page_extends_the_one_head_with_its_content_security_policy():
    pages = [n for n in os.listdir(render.TEMPLATES_DIR)
             if n.endswith('.html') and n != 'base.html']
    assert len(pages) >= 5
    for name in pages:
        with open(os.path.join(render.TEMPLATES_DIR, name), encoding='utf-8') as f:
            assert f.readline().strip() == '{% extends "base.html" %}', name
    html = render.environment().get_template('base.html').render()
    assert ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "img-src data:; style-src 'unsafe-inline'\">") in html
