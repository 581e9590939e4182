"""The typed manifest contract (hpu_model.manifest): JSON round trip, validation on read, design hash."""

import hashlib
import json

import pytest

from hpu_model.manifest import FORMAT, Manifest, ManifestError, design_hash, design_hash_value

from .conftest import hand_manifest


def test_round_trip_keeps_the_json_form(tmp_path):
    man = Manifest.read(hand_manifest())
    assert man.units[0].cls == "mac8" and man.memories[0].write_enable is None and man.design_hash is None
    path = man.write(tmp_path / "m.json")
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["units"][0]["class"] == "mac8"
    assert Manifest.read(path) == man


def test_design_hash_is_sha256_of_the_verilog_bytes():
    text = "module hpu(input clk);\nendmodule\n"
    want = hashlib.sha256(text.encode()).hexdigest()      # independent: hashlib directly
    assert design_hash(text) == design_hash(text.encode()) == "sha256:" + want
    assert design_hash_value(design_hash(text)) == int(want, 16) < 1 << 256
    assert Manifest.read(hand_manifest(design_hash=design_hash(text))).design_hash == "sha256:" + want
    with pytest.raises(ManifestError, match="is not 'sha256:' and 64 lower-case hex digits"):
        Manifest.read(hand_manifest(design_hash="md5:abc"))


@pytest.mark.parametrize("change, message", [
    ({"spec_version": 1}, r"spec_version is 1; expected a string"),
    ({"units": [{**hand_manifest()["units"][0], "ops": "3"}]}, r"units\[0\]\.ops is '3'; expected an integer"),
    ({"units": [{**hand_manifest()["units"][0], "colour": 1}]}, r"units\[0\]\.colour is 1; expected no such field"),
    ({"units": hand_manifest()["units"] * 2}, "units name 'u0' appears twice"),
    ({"memories": [{**hand_manifest()["memories"][0], "read_enable": None}]}, "has neither read_enable nor"),
    ({"memories": [{**hand_manifest()["memories"][0], "depth": 0}]}, r"depth is 0; expected a positive integer"),
])
def test_invalid_fields_are_one_line_errors(change, message):
    with pytest.raises(ManifestError, match=message):
        Manifest.read(hand_manifest(**change))

