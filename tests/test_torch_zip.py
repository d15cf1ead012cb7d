"""The torch-free reader of PyTorch zip checkpoints against torch.load itself, on what torch.save writes."""

import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
import torch

from paddle_roberta.errors import ConversionError
from paddle_roberta.files.readers import open_tensor_file
from paddle_roberta.files.torch_zip import TorchZipFile


def as_numpy(t: torch.Tensor) -> np.ndarray:
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.contiguous().numpy()


def state():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(30, 8, generator=g)
    return {
        "f32": torch.randn(7, 5, generator=g),
        "f16": torch.randn(4, 6, generator=g).half(),
        "bf16": torch.randn(3, 9, generator=g).bfloat16(),
        "f64": torch.randn(5, generator=g).double(),
        "int64 buffer": torch.arange(12).reshape(1, 12),
        "scalar": torch.tensor(3.5),
        "tied a": base,
        "tied b": base,  # one storage, two names (tied embeddings)
        "slice": base[10:20],  # a view at an offset into that storage
        "transposed": base.t(),  # not contiguous: its strides are swapped
        "empty": torch.empty(0, 4),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("zip") / "pytorch_model.bin"
    torch.save(state(), path)
    return path


def test_every_tensor_as_torch_reads_it(saved):
    expected = torch.load(saved, weights_only=True)
    f = TorchZipFile(str(saved))
    assert f.names() == list(expected)
    for name, t in expected.items():
        got = f.read(name)
        assert f.shape(name) == tuple(t.shape) and f.dtype(name) == got.dtype, name
        np.testing.assert_array_equal(got, as_numpy(t), err_msg=name)
        if t.dim() and t.shape[0] > 2:
            np.testing.assert_array_equal(f.read(name, rows=(1, 3)), as_numpy(t[1:3]), err_msg=name)


def test_open_tensor_file_takes_it_for_zip_and_torch_for_legacy(saved, tmp_path):
    assert isinstance(open_tensor_file(str(saved)), TorchZipFile)
    legacy = tmp_path / "legacy.bin"
    torch.save({"w": torch.ones(2, 2)}, legacy, _use_new_zipfile_serialization=False)
    f = open_tensor_file(str(legacy))
    assert not isinstance(f, TorchZipFile) and f.read("w").tolist() == [[1, 1], [1, 1]]


def test_nested_state_dict_and_parameters(tmp_path):
    path = tmp_path / "ckpt.bin"
    layer = torch.nn.Linear(3, 2)
    torch.save({"state_dict": {"w": layer.weight, "b": layer.bias}}, path)  # Parameters, not plain tensors
    f = TorchZipFile(str(path))
    np.testing.assert_array_equal(f.read("w"), layer.weight.detach().numpy())


def test_the_reader_does_not_import_torch(saved):
    code = ("import sys; from paddle_roberta.files.readers import open_tensor_file; "
            f"f = open_tensor_file({str(saved)!r}); f.read('f32'); print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("bad", ["truncated", "not a state dict", "payload", "missing storage"])
def test_refusals_name_the_file(tmp_path, saved, bad):
    path = tmp_path / "pytorch_model.bin"
    sentinel = tmp_path / "ran"
    if bad == "truncated":
        path.write_bytes(saved.read_bytes()[: os.path.getsize(saved) // 2])
    elif bad == "not a state dict":
        torch.save([torch.ones(2)], path)
    elif bad == "payload":
        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {sentinel}",))

        torch.save({"w": torch.ones(2), "evil": Payload()}, path)
    else:  # the pickle names a storage the archive does not hold
        import zipfile

        with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                if not info.filename.endswith("/data/0"):
                    dst.writestr(info, src.read(info))
    with pytest.raises(ConversionError) as e:
        f = open_tensor_file(str(path))
        for name in f.names():
            f.read(name)
    message = str(e.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert not sentinel.exists()
    if bad == "payload":
        assert "posix.system" in message and "nothing in it was run" in message
