"""Terminal progress bars (engine.reporting.TqdmReporter): one bar per count, true rates."""

from __future__ import annotations

import io

from engine.reporting import Progress, TqdmReporter


def _bars(updates: list[Progress]) -> tuple[list[object], str]:
    stream = io.StringIO()
    reporter = TqdmReporter(stream=stream)
    seen = []
    for p in updates:
        reporter.progress(p)
        if not seen or seen[-1] is not reporter._bar:
            seen.append(reporter._bar)
    last = reporter._bar
    text = f"{last.desc} {last.n}/{last.total}"
    reporter.close()
    return seen, text


def test_a_count_over_all_epochs_keeps_one_bar_and_labels_the_epoch():
    # The refinement counts pattern updates over all its epochs (40 x 576 here).
    updates = [Progress("refine", done, total=40 * 576, epoch=min(39, done // 576),
                        max_epochs=40, unit="pattern") for done in range(0, 40 * 576 + 1, 96)]
    bars, text = _bars(updates)
    assert len(bars) == 1  # a new bar per epoch would restart its rate from a huge jump
    assert text == f"refine epoch 40/40 {40 * 576}/{40 * 576}"


def test_a_count_per_epoch_gets_a_bar_per_epoch():
    updates = [Progress("train", step, total=10, epoch=epoch, max_epochs=3)
               for epoch in range(3) for step in range(1, 11)]
    bars, text = _bars(updates)
    assert len(bars) == 3 and text == "train epoch 3/3 10/10"


def test_epoch_line_leaves_out_what_an_epoch_cut_by_stop_did_not_measure():
    stream = io.StringIO()
    reporter = TqdmReporter(stream=stream)
    # A Stop mid-epoch: training loss of the batches done, no validation ran.
    # (keys in another order, as a Qt signal delivers the dict: losses still come first)
    reporter.metrics(4, {"lr": 0.003, "train_loss": -7.58312, "val_loss": float("nan")})
    reporter.close()
    line = stream.getvalue().strip()
    assert line == "epoch 5: train_loss -7.583, lr 0.003"
    assert "nan" not in line
