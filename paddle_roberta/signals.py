"""SIGTERM and SIGINT for the command line: unwind, so the temporary output is removed, then exit 128+signum.

Python's handlers only work while they are installed, and two imports replace the SIGTERM one at the C
level while ``signal.getsignal`` still reports the Python one (found with sigaction after each call, on
paddlepaddle 3.3.1 and paddlenlp 3.0.0b4):

- ``import paddle``: ``paddle.base`` calls ``core.init_glog``, which installs glog's failure handler: it
  prints "FatalError: Termination signal is detected by the operating system" with a C++ trace and kills
  the process, so no cleanup runs;
- ``import paddlenlp``: its ``__init__`` calls ``paddle.disable_signal_handler()``, which resets SIGTERM to
  the default action: the process dies at once, silently, exit 143, the temporary directory left.

torch and transformers leave both signals alone. So ``handled()`` also puts a finder on ``sys.meta_path``
that runs those two packages' imports with the signals blocked in this thread and installs the handlers
again right after each: one place, whichever module imports them, directly or through another.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import signal
import sys
import threading
from contextlib import contextmanager

HANDLED = (signal.SIGTERM, signal.SIGINT)
REPLACED_BY = ("paddle", "paddlenlp")  # top-level packages whose import replaces a handler (see above)


class Terminated(SystemExit):
    """Raised in the main thread by SIGTERM: unwinds like Ctrl-C, exits 128 + signum if nothing catches it."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


LINES = {signal.SIGINT: "paddle-roberta: interrupted", signal.SIGTERM: "paddle-roberta: terminated (SIGTERM)"}
_active = False
_exit_now = False  # nothing written yet (the command line's checks and imports): a signal ends the process at once
_terminating = False
_held = 0  # inside deferred(): a signal waits until it ends
_pending: list = []


def _handler(signum, frame):
    if _exit_now:
        os.write(2, (LINES[signum] + "\n").encode())
        os._exit(128 + signum)
    if _held:
        _pending.append(signum)
        return
    global _terminating
    _terminating = True
    for s in HANDLED:  # the cleanup the exception starts is not cut short by a second signal
        signal.signal(s, signal.SIG_IGN)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def exit_at_once(on: bool) -> None:
    """While ``on`` (the command line before it writes anything), a signal prints its line and ends the process at
    once, even inside paddle's import (which would otherwise hold it until the import is whole: seconds)."""
    global _exit_now
    _exit_now = on


def reinstall() -> None:
    """Put the handlers back (main thread, inside ``handled()``); harmless anywhere else."""
    if _active and not _terminating and _in_main_thread():
        for s in HANDLED:
            signal.signal(s, _handler)


@contextmanager
def handled():
    """For the command line: SIGTERM raises ``Terminated`` and SIGINT ``KeyboardInterrupt`` in the main
    thread for the duration, whatever is imported meanwhile. The previous handlers come back afterwards."""
    global _active, _terminating
    if not _in_main_thread() or _active:
        yield
        return
    previous = {s: signal.getsignal(s) for s in HANDLED}
    _active, _terminating = True, False
    sys.meta_path.insert(0, _FINDER)
    reinstall()
    try:
        yield
    finally:
        _active = False
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


@contextmanager
def deferred():
    """A few steps no signal may split (the renames that swap OUT): one that arrives waits until the end.
    Only the main thread needs it: Python runs signal handlers there, so other threads are never interrupted."""
    global _held
    if not _in_main_thread():
        yield
        return
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held and _pending:
            _handler(_pending.pop(0), None)


# paddle.base's bootstrap calls core.init_glog, which installs glog's handler: wrapped so that ours is back
# the moment it returns (a helper thread paddle starts with every signal unblocked could otherwise take a
# SIGTERM into glog's handler until paddle's whole import ends).
GLOG_MODULE = "paddle.base.core"


def _after_init_glog(module) -> None:
    original = getattr(module, "init_glog", None)
    if original is None:
        return

    def init_glog(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            reinstall()

    module.init_glog = init_glog


class _ReinstallAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == GLOG_MODULE and _active and _in_main_thread():
            spec = importlib.machinery.PathFinder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                loader, original = spec.loader, spec.loader.exec_module

                def exec_core(module):
                    original(module)
                    _after_init_glog(module)

                loader.exec_module = exec_core
            return spec
        if name not in REPLACED_BY or not _active or not _in_main_thread():
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, original = spec.loader, spec.loader.exec_module

        def exec_module(module):
            # numpy's BLAS threads exist already and take a signal the main thread blocks: Python then runs the
            # handler in the main thread inside paddle's import, whose C++ init turns the exception into "Can not
            # import paddle core" and leaves paddle half-registered. deferred(): the handler only notes it, and the
            # signal is raised once the module is whole.
            with deferred():
                blocked = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)  # held by the kernel until reinstalled
                try:
                    original(module)
                finally:
                    del loader.exec_module
                    reinstall()
                    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

        loader.exec_module = exec_module  # this loader object serves this one module
        return spec


_FINDER = _ReinstallAfterImport()


def preload() -> None:
    """Import paddle and paddlenlp now (inside ``handled()``), while the main thread is the only thread. The
    finder blocks the signals only in the importing thread, and a SIGTERM sent to the process goes to any
    thread that does not block it: imported later, after torch or a worker has started threads, a SIGTERM
    during paddle's import window (~0.7 s) reached glog's handler through another thread (C++ trace, the
    temporary directory left), or came out as an ImportError. Threads started during the import inherit the
    blocked mask, so afterwards signals reach the main thread and its handler only. Nothing if not installed."""
    for name in REPLACED_BY:
        try:
            __import__(name)
        except ImportError:
            return


# In Python (no ``handled()``), a KeyboardInterrupt that splits a framework's import leaves it half-imported for the
# rest of the process: paddle's C++ types stay registered ("type AmpLevel is already registered" on the retry),
# huggingface_hub's lazy names stay missing. So the imports of these packages (and their submodules) run whole: a
# Ctrl-C that arrives meanwhile is held and raised the moment the outermost one has finished, the module complete,
# and a retry in the same process works. Only where Python's own SIGINT handler is in force (a program with its own
# handler keeps it), and only in the main thread (where Python delivers signals).
WHOLE = ("paddle", "paddlenlp", "torch", "transformers", "huggingface_hub", "sentence_transformers", "safetensors",
         "tokenizers", "sentencepiece", "datasets", "aistudio_sdk")


class _WholeImports(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in WHOLE or not _in_main_thread():
            return None
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None  # the command line's handler (handled()), a program's own, or an import already held
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, original = spec.loader, spec.loader.exec_module

        def exec_module(module):
            held = []
            signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
            try:
                original(module)
            finally:
                del loader.exec_module
                if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                    signal.signal(signal.SIGINT, signal.default_int_handler)
            if held:
                raise KeyboardInterrupt

        loader.exec_module = exec_module
        return spec


def _install_whole_imports():
    """Before the PathFinder (after any finder a program or an editable install put first)."""
    if any(isinstance(f, _WholeImports) for f in sys.meta_path):
        return
    at = next((i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder), len(sys.meta_path))
    sys.meta_path.insert(at, _WholeImports())


_install_whole_imports()
