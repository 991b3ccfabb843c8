"""A long scenario runs in one process per usable core (issue 20): the CPU affinity a
container or `taskset` gives, not the machine's count, and no cap of eight."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from engine.simulation import parallel
from engine.simulation.scenario import Contact, Scenario


def scenario(contacts: int) -> Scenario:
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    return Scenario(at, [], [Contact(f"C{i}", at, {}, {}, {}) for i in range(contacts)])


def cores(monkeypatch: pytest.MonkeyPatch, affinity: int, machine: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(affinity)))
    monkeypatch.setattr(os, "cpu_count", lambda: machine)


def test_the_processes_follow_the_affinity_not_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    cores(monkeypatch, affinity=3, machine=64)
    assert parallel.usable_cores() == 3
    assert parallel.shard_count(scenario(20_000)) == 3


def test_no_cap_of_eight(monkeypatch: pytest.MonkeyPatch) -> None:
    cores(monkeypatch, affinity=32, machine=32)
    assert parallel.shard_count(scenario(20_000)) == 32


def test_a_shard_keeps_enough_contacts_to_pay_for_its_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cores(monkeypatch, affinity=32, machine=32)
    assert parallel.shard_count(scenario(399)) == 1
    assert parallel.shard_count(scenario(400)) == 2
    assert parallel.shard_count(scenario(1_000)) == 5


def test_without_affinity_the_machine_count_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert parallel.usable_cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert parallel.usable_cores() == 1
