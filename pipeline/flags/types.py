"""Argument types and small helpers shared by every command's flags."""

import argparse


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text} is not between 0 and 1')
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not a positive integer')
    return value


def add_bool(parser, name: str, default: bool, text: str) -> None:
    """--NAME / --no-NAME."""
    parser.add_argument(f'--{name}', action=argparse.BooleanOptionalAction, default=default,
                        help=f'{text[0].upper()}{text[1:]} (default: '
                             f'{"--" if default else "--no-"}{name}).')
