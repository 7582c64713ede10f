"""The plugin's watch on its engine: it exits once its parent is gone, and only then."""

from __future__ import annotations

import threading

from ardent_provider.native.engine_watch import watch_engine


def test_the_process_exits_after_a_grace_once_its_parent_is_gone() -> None:
    parents = iter([4242, 4242, 4242, 1])
    exited = threading.Event()
    codes: list[int] = []

    def exit_process(code: int) -> None:
        codes.append(code)
        exited.set()

    watcher = watch_engine(
        4242, parent_pid_now=lambda: next(parents), exit_process=exit_process, poll_seconds=0, grace_seconds=0
    )
    assert exited.wait(5) and codes == [0]
    watcher.join(5)
    assert not watcher.is_alive()


def test_nothing_is_watched_without_a_real_parent() -> None:
    calls: list[int] = []
    watcher = watch_engine(1, parent_pid_now=lambda: calls.append(1) or 0, exit_process=calls.append)
    assert not watcher.is_alive() and calls == []


def test_a_living_parent_keeps_the_process() -> None:
    exits_while_alive: list[int] = []
    exits: list[int] = []
    seen = 0

    def parent() -> int:
        nonlocal seen
        seen += 1
        if seen <= 20:
            return 4242
        exits_while_alive.extend(exits)  # what had happened while the parent lived
        return 1  # then the parent goes, which ends the watch thread

    watcher = watch_engine(4242, parent_pid_now=parent, exit_process=exits.append, poll_seconds=0.001, grace_seconds=0)
    watcher.join(5)
    assert seen == 21 and exits_while_alive == [] and exits == [0]
