"""The demo's progress bar: redrawn in place on a terminal, one line per quarter elsewhere."""

from __future__ import annotations

import io

from pipeline.demo.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_render_fills_in_proportion() -> None:
    bar = ProgressBar(200, "stored", io.StringIO(), width=10)
    assert bar.render(50) == "[##--------]  25%  50/200 stored"
    assert bar.render(250) == "[##########] 100%  200/200 stored"


def test_outside_a_terminal_only_quarters_are_printed() -> None:
    stream = io.StringIO()
    bar = ProgressBar(100, "stored", stream, width=4)
    for done in range(0, 101, 5):
        bar.update(done)
    bar.finish(100)
    assert stream.getvalue().splitlines() == [
        "[----]   0%  0/100 stored",
        "[#---]  25%  25/100 stored",
        "[##--]  50%  50/100 stored",
        "[###-]  75%  75/100 stored",
        "[####] 100%  100/100 stored",
    ]


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_the_line_ended() -> None:
    stream = Terminal()
    bar = ProgressBar(10, "stored", stream, width=10)
    bar.update(3)
    bar.finish(10)
    assert stream.getvalue() == "\r[###-------]  30%  3/10 stored\r[##########] 100%  10/10 stored\n"
