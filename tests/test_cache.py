"""The from_pretrained cache: a changed source converts again even when size and mtime are kept; old and
excess entries go; `paddle-roberta cache list|clear`."""

import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import TINY

from paddle_roberta.api import converted_dir
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.files import cache

CLI = [sys.executable, "-m", "paddle_roberta"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_ROBERTA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PADDLE_ROBERTA_CACHE_MAX_GB", raising=False)
    for seed in (1, 2, 3):
        build_checkpoint(str(tmp_path / f"hf{seed}"), "BertModel", TINY["bert"], seed=seed)
    return tmp_path


@pytest.mark.parametrize("how", ["written in place, mtime restored", "cp -p over it"])
def test_same_size_same_mtime_replacement_converts_again(env, how):
    src = env / "hf1"
    weights = src / "model.safetensors"
    first = converted_dir(src, verify=False)
    st = os.stat(weights)
    other = (env / "hf2" / "model.safetensors").read_bytes()
    assert len(other) == st.st_size and other != weights.read_bytes()
    if how.startswith("written in place"):
        with open(weights, "r+b") as f:  # same inode
            f.write(other)
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r
    else:
        os.remove(weights)
        subprocess.run(["cp", "-p", str(env / "hf2" / "model.safetensors"), str(weights)], check=True)
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(weights).st_size == st.st_size and os.stat(weights).st_mtime_ns == st.st_mtime_ns
    second = converted_dir(src, verify=False)
    assert second != first
    assert (env / "cache" / os.path.basename(second) / "model.safetensors").read_bytes() != \
        (env / "cache" / os.path.basename(first) / "model.safetensors").read_bytes()
    assert converted_dir(src, verify=False) == second  # unchanged now: served from the cache


def test_key_reads_a_bounded_sample_of_large_files(tmp_path, monkeypatch):
    """The key costs the same for a 1.3 GB file as for a 2 MB one: two 64 KiB ends and 32 blocks of 4 KiB."""
    read = []
    real = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: read.append(n) or real(fd, n, off))
    big = tmp_path / "model.safetensors"
    with open(big, "wb") as f:
        f.truncate(1_300_000_000)  # sparse: the size is what matters here
    cache.content_sample(str(big), big.stat().st_size)
    assert sum(read) == 2 * cache.EDGE_BYTES + cache.SAMPLES * cache.SAMPLE_BYTES


def test_old_and_excess_entries_are_removed(env, monkeypatch):
    a = converted_dir(env / "hf1", verify=False)
    b = converted_dir(env / "hf2", verify=False)
    month_ago = time.time() - 31 * 86400
    os.utime(a, (month_ago, month_ago))
    c = converted_dir(env / "hf3", verify=False)  # any use prunes
    assert sorted(os.listdir(env / "cache")) == sorted(os.path.basename(p) for p in (b, c))

    # beyond the cap: least recently used first, never the entry just used
    os.utime(b, (time.time() - 60, time.time() - 60))
    size = sum(e.size for e in cache.entries())
    monkeypatch.setenv("PADDLE_ROBERTA_CACHE_MAX_GB", str(0.75 * size / 2**30))
    assert converted_dir(env / "hf3", verify=False) == c
    assert os.listdir(env / "cache") == [os.path.basename(c)]
    monkeypatch.setenv("PADDLE_ROBERTA_CACHE_MAX_GB", "0")
    assert converted_dir(env / "hf3", verify=False) == c and os.path.isdir(c)


def test_use_stamps_the_entry(env):
    a = converted_dir(env / "hf1", verify=False)
    os.utime(a, (0, 0))
    assert converted_dir(env / "hf1", verify=False) == a
    assert time.time() - os.stat(a).st_mtime < 60


def test_cache_list_and_clear(env):
    converted_dir(env / "hf1", verify=False)
    converted_dir(env / "hf2", verify=False)
    (env / "cache" / "not-ours").mkdir()  # left alone
    r = subprocess.run(CLI + ["cache", "list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{env / 'cache'}: 2 entries") and len(lines) == 3
    assert all("BertModel  from " + str(env / "hf") in line for line in lines[1:])
    r = subprocess.run(CLI + ["cache", "clear"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "removed 2 entries" in r.stdout
    assert os.listdir(env / "cache") == ["not-ours"]
    r = subprocess.run(CLI + ["cache", "list"], capture_output=True, text=True, timeout=120)
    assert r.stdout.startswith(f"{env / 'cache'}: 0 entries")
    shutil.rmtree(env / "cache")
    assert subprocess.run(CLI + ["cache", "list"], capture_output=True, timeout=120).returncode == 0
