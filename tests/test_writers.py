"""The safetensors writer hashes and writes in a thread of its own: an error there reaches the caller, with the file."""

import errno

import numpy as np
import pytest

from paddle_roberta.files.writers import SafetensorsWriter


class Full:
    """A file on a full disk: every write fails as the kernel's would."""

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self):
        pass


def test_a_write_error_in_the_writer_thread_is_raised_with_the_path(tmp_path, monkeypatch):
    path = str(tmp_path / "model.safetensors")
    monkeypatch.setattr("paddle_roberta.files.writers.open", lambda *args, **kwargs: Full(), raising=False)
    writer = SafetensorsWriter(path, [("a", np.float32, (4, 4)), ("b", np.float32, (4,))], {"format": "np"})
    with pytest.raises(OSError) as e:
        writer.write("a", np.ones((4, 4), np.float32))
        writer.write("b", np.ones(4, np.float32))
        writer.close()
    assert e.value.errno == errno.ENOSPC and e.value.filename == path
