"""Batching and per-artist tokens without Ray: what a batch Ray Serve collected becomes
(``serving/batching.py``), the tokens file (``serving/tokens.py``) and their command line."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
from doubles import FakeEngine

from desktop_app.cli import EXIT_ERROR, EXIT_USAGE, main
from desktop_app.core.errors import RenderCancelled
from desktop_app.core.types import RenderRequest
from desktop_app.core.wire import Reply, WireError, encode_sketch, pack, read_result_header
from desktop_app.serving.batching import Company, SharedForwards, Waiting, run_batch
from desktop_app.serving.service import FrameService
from desktop_app.serving.tokens import ArtistTokens, parse_tokens, read_tokens_file

TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789ab"}


class BatchingEngine(FakeEngine):
    """The fake engine with ``render_batch``: it records each forward's request ids, and can
    fail the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.forwards: list[list[int]] = []
        self.fail_batch = False

    def render_batch(self, requests, should_cancel=None):
        self.forwards.append([r.request_id for r in requests])
        if self.fail_batch:
            self.fail_batch = False
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return [self.render(r, should_cancel) for r in requests]


def _waiting(service, request_id, size=256, export=False, cancelled=False, seed=1):
    request = RenderRequest(
        sketch=np.full((size, size, 3), 255, np.uint8), size=size, seed=seed,
        request_id=request_id,
    )
    from desktop_app.core.wire import request_header

    header = request_header(request, Reply("png"), model="fake" if export else None)
    frame = service.accept(pack(header, encode_sketch(request.sketch)), export=export)
    return Waiting(frame, lambda: cancelled, received=0.0)


def _batch_sizes(outcomes) -> list[int]:
    """What each frame's timings tell its client: the batch it ran in."""
    return [read_result_header(o.result()[0]).server.batch_size for o in outcomes]


def test_frames_of_one_size_share_a_forward_and_other_sizes_never_do():
    engine = BatchingEngine()
    service = FrameService(engine)
    batch = [_waiting(service, 1), _waiting(service, 2, size=320), _waiting(service, 3)]
    outcomes = run_batch(service, batch)
    assert engine.forwards == [[1, 3]]  # the 320 one alone (a batch of one renders plainly)
    assert [o.result()[0]["id"] for o in outcomes] == [1, 2, 3]
    assert _batch_sizes(outcomes) == [2, 1, 2]


def test_a_frame_given_up_while_waiting_is_dropped_before_the_forward():
    engine = BatchingEngine()
    service = FrameService(engine)
    batch = [_waiting(service, 1), _waiting(service, 2, cancelled=True), _waiting(service, 3)]
    outcomes = run_batch(service, batch)
    assert engine.forwards == [[1, 3]]
    assert batch[1].progress.stage == "dropped"
    with pytest.raises(RenderCancelled):
        outcomes[1].result()
    assert _batch_sizes([outcomes[0], outcomes[2]]) == [2, 2]


def test_an_export_renders_alone():
    engine = BatchingEngine()
    engine.info = engine.info.__class__(**{**engine.info.__dict__, "model": "fake"})
    service = FrameService(engine)
    outcomes = run_batch(service, [_waiting(service, 1), _waiting(service, 2, export=True)])
    assert engine.forwards == []  # neither had company it could share a forward with
    assert all(o.error is None for o in outcomes)


def test_a_failed_forward_fails_each_frame_with_one_message_and_the_next_batch_renders():
    engine = BatchingEngine()
    service = FrameService(engine)
    engine.fail_batch = True
    failed = run_batch(service, [_waiting(service, 1), _waiting(service, 2)])
    messages = set()
    for outcome in failed:
        with pytest.raises(WireError) as caught:
            outcome.result()
        assert caught.value.status == 500
        messages.add(str(caught.value))
    assert messages == {
        "the server failed to render a batch of 2 frames: RuntimeError: CUDA error: an "
        "illegal memory access was encountered"
    }
    again = run_batch(service, [_waiting(service, 3), _waiting(service, 4)])
    assert [o.result()[0]["id"] for o in again] == [3, 4]


def test_the_engine_lock_keeps_batches_and_single_frames_apart():
    engine = BatchingEngine()
    service = FrameService(engine)
    with service._engine_lock:
        worker = threading.Thread(target=run_batch, args=(service, [_waiting(service, 1)]))
        worker.start()
        worker.join(0.2)
        assert worker.is_alive() and engine.forwards == []  # waits for the lock
    worker.join(5)
    assert not worker.is_alive()


def test_frames_of_batches_that_waited_for_a_busy_engine_share_the_next_forward():
    engine = BatchingEngine()
    service = FrameService(engine)
    forwards = SharedForwards(service, max_batch=3)
    batches = [[_waiting(service, 1)], [_waiting(service, 2)], [_waiting(service, 3)],
               [_waiting(service, 4)]]
    found: dict[int, list] = {}
    with forwards._turn:  # the engine's turn taken by another batch, rendering
        threads = [
            threading.Thread(target=lambda b=b: found.update({id(b): forwards.run(b)}))
            for b in batches
        ]
        for thread in threads:
            thread.start()
        while len(forwards._waiting) < 4:
            threading.Event().wait(0.01)
    for thread in threads:
        thread.join(10)
    assert [len(f) for f in engine.forwards] == [3]  # up to --max-batch; the fourth alone
    for batch in batches:
        (outcome,) = found[id(batch)]
        assert outcome.result()[0]["id"] == batch[0].frame.request.request_id


def test_a_frame_waits_for_company_only_when_there_is_some():
    company = Company(window_s=1.0)
    company.enter(now=0.0)
    assert company.wait_s(0.005, now=0.0) == 0.0  # one artist alone: no wait
    company.leave()
    company.enter(now=1.0)
    company.enter(now=1.0)  # two frames at once
    assert company.wait_s(0.005, now=1.0) == 0.005
    company.leave()
    company.leave()
    assert company.wait_s(0.005, now=1.5) == 0.005  # they drew together a moment ago
    assert company.wait_s(0.005, now=2.5) == 0.0  # and not since


# --- tokens ---------------------------------------------------------------------------------


def _tokens_file(tmp_path, text: str):
    path = tmp_path / "artists"
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def test_a_tokens_file_names_its_artists_and_skips_bad_lines_by_number():
    text = "# the studio\n\nalice alice-token-0123456789\nbob\ncarol short\n"
    text += "bob bob-token-0123456789ab\n"
    text += "alice other-token-0123456789\ndave alice-token-0123456789\n"
    tokens = parse_tokens(text, "F")
    assert sorted(tokens.names.values()) == ["alice", "bob"]
    assert [w.split(":")[0] for w in tokens.warnings] == [
        "tokens file F line 4", "tokens file F line 5", "tokens file F line 7",
        "tokens file F line 8",
    ]
    assert all("skipped" in w and "token-0123" not in w for w in tokens.warnings)


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "does not exist"), ("# nobody yet\n\n", "holds no tokens"), ("bob\n", "no tokens")],
)
def test_a_tokens_file_that_cannot_be_used_is_one_line(tmp_path, content, words):
    path = tmp_path / "artists"
    if content is not None:
        path.write_text(content)
    with pytest.raises(Exception) as caught:
        read_tokens_file(path)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_removed_token_is_refused_from_the_next_check(tmp_path):
    path = _tokens_file(tmp_path, "".join(f"{n} {t}\n" for n, t in TOKENS.items()))
    now = [0.0]
    artists = ArtistTokens(path, recheck_s=1.0, clock=lambda: now[0])
    assert artists.name_of(f"Bearer {TOKENS['bob']}") == "bob"
    assert artists.name_of(f"Bearer {TOKENS['alice']}") == "alice"
    path.write_text(f"alice {TOKENS['alice']}\n")
    os.utime(path, ns=(1, 1))  # a change even within the file system's clock step
    now[0] = 1.5
    with pytest.raises(WireError) as caught:
        artists.name_of(f"Bearer {TOKENS['bob']}")
    assert caught.value.status == 401
    assert artists.name_of(f"Bearer {TOKENS['alice']}") == "alice"
    for wrong in (None, "", f"Basic {TOKENS['alice']}", "Bearer nope"):
        with pytest.raises(WireError):
            artists.name_of(wrong)
    path.unlink()  # a file gone lets nobody in
    now[0] = 3.0
    with pytest.raises(WireError):
        artists.name_of(f"Bearer {TOKENS['alice']}")


# --- the command line -----------------------------------------------------------------------


def _run(capsys, *args) -> tuple[int, str]:
    code = main(["serve", "--model", "tiny", *map(str, args)])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return code, err[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--max-batch", "0"], "max batch must be between 1 and 64"),
        (["--max-batch", "65"], "max batch must be between 1 and 64"),
        (["--batch-wait-ms", "-1"], "batch wait (ms) must be between 0 and 1000"),
        (["--token-file", "a", "--tokens-file", "b"], "not allowed with"),
    ],
)
def test_bad_batching_options_are_one_line(capsys, args, words):
    code, line = _run(capsys, *args)
    assert code == EXIT_USAGE and words in line


def test_a_bad_tokens_file_is_one_line_before_ray_starts(capsys, tmp_path):
    code, line = _run(capsys, "--tokens-file", tmp_path / "missing")
    assert code == EXIT_ERROR and "does not exist" in line
    empty = _tokens_file(tmp_path, "# nobody\n")
    code, line = _run(capsys, "--tokens-file", empty)
    assert code == EXIT_ERROR and "holds no tokens" in line


# --- the load test ----------------------------------------------------------------------------


def test_the_load_test_reports_each_artist_with_batching_on_and_off(capsys):
    from service_http import serving

    engine = FakeEngine(delay_s=0.02, model="fake-remote")
    with serving(engine, replica="r") as served:
        args = ["bench", "--server", served.url, "--artists", "3", "--seconds", "1"]
        assert main([*args, "--size", "128", "--stroke-ms", "50", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["runs"]) == {"on", "off"}
    for run in report["runs"].values():
        assert len(run["per_artist"]) == 3 and run["errors"] == []
        # A stroke every 50 ms for a second, one frame in flight: at most ~20 frames each.
        assert all(0 < a["frames"] <= 22 for a in run["per_artist"])
        assert all(a["round_trip_ms_p50"] >= 20 for a in run["per_artist"])
        assert run["fairness"] >= 1.0 and run["batch_sizes"] == {"1": run["frames_total"]}
    assert report["command"].startswith("live-canvas bench --server ")


def test_artists_without_a_server_is_one_line(capsys):
    assert main(["bench", "--artists", "2"]) == EXIT_ERROR
    assert "--artists goes with --server" in capsys.readouterr().err


def test_render_server_output_says_the_batch_a_frame_ran_in():
    from desktop_app.core.types import RemoteTimings, ServerTimings

    timings = RemoteTimings(ServerTimings(queue_ms=3, handler_ms=412, batch_size=3))
    assert "(queue 3, batch of 3)" in timings.summary()
    assert "batch" not in RemoteTimings(ServerTimings(handler_ms=90)).summary()
