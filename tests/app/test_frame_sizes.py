"""Frames in motion on a slow device: the size comes from frame times measured here."""

from __future__ import annotations

from desktop_app.app.frame_sizes import FrameSizes


def test_the_full_size_while_this_device_keeps_up():
    sizes = FrameSizes(target_ms=250)
    assert sizes.in_motion(512) == 512  # nothing measured yet
    sizes.record(512, 120)
    assert sizes.in_motion(512) == 512


def test_a_slow_device_draws_smaller_frames_as_measured():
    sizes = FrameSizes(target_ms=250)
    sizes.record(512, 600)
    assert sizes.in_motion(512) == 256  # 384 would take ~340 ms, 256 ~150 ms
    sizes.record(256, 300)  # slower than the pixel count said: fixed costs
    assert sizes.in_motion(512) == 192
    sizes.record(192, 140)
    assert sizes.in_motion(512) == 192


def test_even_the_smallest_size_when_nothing_keeps_up():
    sizes = FrameSizes(target_ms=250)
    sizes.record(512, 30_000)
    assert sizes.in_motion(512) == 128


def test_a_size_measured_for_another_setting_counts_too():
    sizes = FrameSizes(target_ms=250)
    sizes.record(256, 200)
    sizes.record(1024, 3200)
    assert sizes.in_motion(1024) == 256  # measured at 200 ms; 384 would be ~450 ms


def test_small_sizes_never_go_below_the_smallest():
    sizes = FrameSizes(target_ms=1)
    sizes.record(128, 50)
    assert sizes.in_motion(128) == 128
