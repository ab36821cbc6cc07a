"""The runnable examples still train (short runs)."""
import pathlib
import runpy

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def test_nn_classifier_learns_the_spiral(capsys):
    main = runpy.run_path(str(EXAMPLES / "nn_classifier.py"))["main"]
    assert main(steps=200) > 0.95
    assert "EMA weights" in capsys.readouterr().out
