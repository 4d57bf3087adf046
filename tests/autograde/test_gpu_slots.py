"""GPU shares for concurrent workers (pure bookkeeping: runs without a GPU)."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter

import pytest

from grader import config
from grader.autograde.gpu_slots import HEADROOM, GpuSlots, leased, visible_devices


def test_shares_spread_round_robin_over_the_cards():
    slots = GpuSlots(["0", "1"], per_gpu=3)
    assert len(slots) == 6
    assert [s.device for s in slots.slots[:2]] == ["0", "1"]  # a small batch uses both cards
    assert Counter(s.device for s in slots.slots) == {"0": 3, "1": 3}
    assert all(s.memory_fraction == pytest.approx(HEADROOM / 3, abs=1e-4) for s in slots.slots)
    assert sum(s.memory_fraction for s in slots.slots if s.device == "0") <= 1.0


def test_concurrent_leases_never_share_a_slot_and_the_next_one_waits():
    slots = GpuSlots(["0"], per_gpu=4)
    held, peak, lock = set(), [0], threading.Lock()
    clash = []

    def work():
        with slots.lease() as slot:
            with lock:
                if slot in held:
                    clash.append(slot)
                held.add(slot)
                peak[0] = max(peak[0], len(held))
            time.sleep(0.05)
            with lock:
                held.discard(slot)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not clash and peak[0] == 4

    held_all = [slots.lease() for _ in range(4)]
    for lease in held_all:
        lease.__enter__()
    with pytest.raises(queue.Empty):
        slots.lease(timeout=0.05).__enter__()
    for lease in held_all:
        lease.__exit__(None, None, None)
    with slots.lease(timeout=0.05) as slot:  # all four came back
        assert slot.device == "0"


def test_leased_is_a_share_on_cuda_and_nothing_on_the_cpu():
    with leased(None) as slot:
        assert slot is None
    slots = GpuSlots(["0"], per_gpu=1)
    with leased(slots) as slot:
        assert slot is slots.slots[0]
        with pytest.raises(queue.Empty):
            slots.lease(timeout=0.05).__enter__()
    with slots.lease(timeout=0.05):  # given back
        pass


def test_jobs_spread_evenly_unless_capped():
    assert GpuSlots.for_jobs(8, devices=["0"]).per_gpu == 8
    assert GpuSlots.for_jobs(8, devices=["2", "3"]).per_gpu == 4
    assert GpuSlots.for_jobs(5, devices=["0", "1"]).per_gpu == 3
    capped = GpuSlots.for_jobs(16, per_gpu=4, devices=["0"])
    assert len(capped) == 4 and capped.slots[0].memory_fraction == pytest.approx(HEADROOM / 4, abs=1e-4)
    with pytest.raises(RuntimeError, match="sees no GPU"):
        GpuSlots.for_jobs(2, devices=[])
    with pytest.raises(ValueError, match="at least 1"):
        GpuSlots(["0"], per_gpu=0)


def test_visible_devices_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3")
    assert visible_devices() == ["2", "3"]  # the physical names the workers are given
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_devices() == []


def test_gpu_workers_have_no_address_space_cap_but_cpu_workers_do():
    gpu = config.limits_for(config.PROFILES["gpu"], cuda_slot="1", memory_fraction=0.2)
    cpu = config.limits_for(config.PROFILES["cpu"])
    assert gpu.memory_bytes is None and gpu.cuda_device == "1" and gpu.cuda_memory_fraction == 0.2
    assert cpu.memory_bytes and cpu.cuda_device == ""
