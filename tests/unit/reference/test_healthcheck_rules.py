"""Docker's health rules as the reference monitor applies them (pure functions, no kernel): each
rule shown holding and shown broken by the case made to break it."""

from seatrial.engines.reference.healthcheck import Policy, initial, probe_argv, record_result


def result(code: int, at: float) -> dict:
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": "", "_start": at}


def after(codes, *, policy=None, start=0.0, times=None):
    policy = policy if policy is not None else Policy(retries=2)
    health = initial()
    for i, code in enumerate(codes):
        health = record_result(health, result(code, (times or range(100, 200))[i]), started_at=start, policy=policy)
    return health


def test_one_success_makes_healthy_and_resets_the_streak():
    assert after([1, 0]) == {"Status": "healthy", "FailingStreak": 0, "Log": after([1, 0])["Log"]}
    assert after([1])["Status"] == "starting"


def test_retries_consecutive_failures_make_unhealthy_and_the_streak_keeps_counting():
    assert (after([1, 1])["Status"], after([1, 1])["FailingStreak"]) == ("unhealthy", 2)
    assert (after([0, 1])["Status"], after([0, 1])["FailingStreak"]) == ("healthy", 1)
    assert after([0, 1, 1, 1])["FailingStreak"] == 3


def test_failures_within_the_start_period_do_not_count_while_starting():
    policy = Policy(retries=1, start_period=30.0)
    assert after([1, 1], policy=policy, times=[10, 20]) == {
        "Status": "starting",
        "FailingStreak": 0,
        "Log": after([1, 1], policy=policy, times=[10, 20])["Log"],
    }
    assert after([1], policy=policy, times=[31])["Status"] == "unhealthy"
    # once healthy, the start period no longer shields a failure
    assert after([0, 1], policy=policy, times=[5, 6])["Status"] == "unhealthy"


def test_the_log_keeps_the_last_five_without_private_keys():
    log = after([1, 0, 1, 0, 1, 0, 7])["Log"]
    assert len(log) == 5 and log[-1]["ExitCode"] == 7 and all("_start" not in e for e in log)


def test_policy_defaults_are_dockers_and_options_are_nanoseconds():
    assert Policy.of({}) == Policy(30.0, 30.0, 0.0, 3)
    assert Policy.of({"Interval": 10**9, "Timeout": 5 * 10**8, "StartPeriod": 2 * 10**9, "Retries": 5}) == Policy(
        1.0, 0.5, 2.0, 5
    )


def test_probe_command_of_each_test_form():
    assert probe_argv({"Test": ["CMD", "wget", "-q", "x"]}) == ["wget", "-q", "x"]
    assert probe_argv({"Test": ["CMD-SHELL", "a; b"]}) == ["/bin/sh", "-c", "a; b"]
    assert probe_argv({"Test": ["NONE"]}) is None
    assert probe_argv(None) is None and probe_argv({"Test": []}) is None


def test_durations_read_as_go_reads_them_and_refused_in_gos_words():
    import pytest

    from seatrial.engines.durations import parse_duration

    assert [parse_duration(t) for t in ("1m30s", "1.5s", "300ms", "0", "2h")] == [
        90 * 10**9,
        15 * 10**8,
        3 * 10**8,
        0,
        7200 * 10**9,
    ]
    for text, message in (
        ("5", 'missing unit in duration "5"'),
        ("5x", 'unknown unit "x" in duration "5x"'),
        ("", 'invalid duration ""'),
        ("s", 'invalid duration "s"'),
    ):
        with pytest.raises(ValueError, match=message):
            parse_duration(text)
