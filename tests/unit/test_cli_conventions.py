"""The command's habits, without engines: --version, -q/-v, --json, completion, usage errors said
by the subcommand that took them, unknown engines (exit 2, the known ones listed), Ctrl-C."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from seatrial.harness import cli
from seatrial.harness.cli import Exit, build_parser, main

RESULTS = Path(__file__).parent / "fixtures" / "results"


def test_version_prints_the_installed_version_and_exits_0(capsys):
    assert main(["--version"]) == Exit.OK
    assert capsys.readouterr().out.strip() == f"seatrial {cli.version()}"
    assert cli.version()[0].isdigit()


@pytest.mark.parametrize("command", [["run"], ["engines"], ["clean"], ["clean", "--caches"]])
def test_unknown_engine_exits_2_with_the_subcommands_usage_and_the_known_engines(command, capsys):
    assert main([*command, "--engine", "nosuch"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert f"usage: seatrial {command[0]}" in err
    assert "engine 'nosuch' is not registered" in err
    assert "registered: docker, docker-buildkit, podman, podman-rootless, reference" in err
    assert "Traceback" not in err


def test_did_you_mean_for_a_misspelt_engine(capsys):
    assert main(["engines", "--engine", "dockr"]) == Exit.BAD_INPUT
    assert "did you mean 'docker'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["run"], ["report", "results"], ["compare", "a", "b"], ["claims"], ["clean"], ["engines"], ["completion", "bash"]],
)
def test_an_unknown_option_is_reported_with_the_subcommands_usage(argv, capsys):
    assert main([*argv, "--no-such-option"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"usage: seatrial {argv[0]}")
    assert "unrecognized arguments: --no-such-option" in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["claims"], 0),
        (["-q", "claims"], -1),
        (["claims", "-q"], -1),
        (["-v", "claims"], 1),
        (["claims", "-vv"], 2),
        (["-v", "claims", "-q"], -1),
    ],
)
def test_quiet_and_verbose_are_taken_before_or_after_the_subcommand(argv, expected):
    args = build_parser().parse_args(argv)
    assert cli.verbosity(args) == expected


def test_quiet_report_prints_nothing_but_writes_every_file(tmp_path):
    out = io.StringIO()
    assert main(["report", "-q", str(RESULTS / "full"), "-o", str(tmp_path)], out=out) == Exit.OK
    assert out.getvalue() == ""
    assert (tmp_path / "index.html").exists()


def test_claims_json_lists_every_claim_with_status_per_engine():
    out = io.StringIO()
    assert main(["claims", "--json", str(RESULTS / "full")], out=out) == Exit.OK
    document = json.loads(out.getvalue())
    assert document["engines"] == ["docker", "podman"]
    claims = {c["claim"]: c for c in document["claims"]}
    assert len(claims) == 32
    assert claims["C01"]["cells"]["docker"]["status"] == "held"
    assert claims["C20"]["cells"]["podman"]["status"] == "diverged"
    assert claims["C24"]["cells"]["podman"]["reason"] == "bind-mount: step 0: exit code: expected 0, got 1"


def test_engines_json_is_one_object_per_engine(monkeypatch):
    from fakes import RecordingEngine

    from seatrial.engines import discovery as registry

    monkeypatch.setattr(registry, "load_engines", lambda names, **_: [RecordingEngine()])
    monkeypatch.setattr(registry, "describe", list)
    out = io.StringIO()
    assert main(["engines", "--json", "--quick"], out=out) == Exit.OK  # the format only: no functional check
    [row] = json.loads(out.getvalue())
    assert row["status"] == "available" and row["name"] == RecordingEngine().info().name
    assert isinstance(row["is_rootless"], bool) and isinstance(row["missing"], dict)


def test_output_to_a_file_or_pipe_has_no_colour_codes():
    out = io.StringIO()
    main(["claims", str(RESULTS / "full")], out=out)
    assert "\x1b[" not in out.getvalue() and "C01" in out.getvalue()


def test_ctrl_c_exits_130_and_says_interrupted(monkeypatch, capsys):
    def interrupted(args, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_claims", interrupted)
    assert main(["claims"]) == Exit.INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


def test_completion_script_is_valid_bash_and_completes_subcommands_options_and_engines(tmp_path):
    out = io.StringIO()
    assert main(["completion", "bash"], out=out) == Exit.OK
    script = tmp_path / "seatrial.bash"
    script.write_text(out.getvalue())

    def complete(*words: str) -> list[str]:
        line = " ".join(["seatrial", *words])
        probe = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; "
            '_seatrial; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        proc = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert {"run", "report", "compare", "claims", "clean", "engines", "completion"} <= set(complete("''"))
    assert complete("r") == ["run", "report", "ref"] or set(complete("r")) == {"run", "report", "ref"}
    assert "--bench" in complete("run", "--b") and "--json" in complete("run", "--j")
    assert complete("run", "--engine", "ref") == ["reference"]
    assert "--caches" in complete("clean", "--c")
    assert complete("completion", "z") == ["zsh"]
    assert "bashcompinit" in (main(["completion", "zsh"], out=(zsh := io.StringIO())) or zsh.getvalue())


def test_clean_caches_asks_every_engine_and_the_interface_default_is_a_no_op(monkeypatch):
    from fakes import RecordingEngine

    from seatrial.engines import discovery as registry
    from seatrial.engines.base import Engine, PruneReport
    from seatrial.harness import reaper

    class Plain(RecordingEngine):
        prune_caches = Engine.prune_caches  # an adapter that keeps the interface's default

    class Pruning(RecordingEngine):
        def prune_caches(self):
            self.calls.append(("prune_caches",))
            return PruneReport(3, 2**21, ("3 dangling images labelled seatrial.session",))

    pruning, plain = Pruning(name="pruning"), Plain(name="plain")
    monkeypatch.setattr(registry, "load_engines", lambda names, **_: [pruning, plain])
    monkeypatch.setattr(reaper, "reap_dead_sessions", lambda engines, log: [])
    out = io.StringIO()
    assert main(["clean", "--caches"], out=out) == Exit.OK
    text = out.getvalue()
    assert "clean: pruning: removed 3 cache entries, 2 MiB freed" in text
    assert "  3 dangling images labelled seatrial.session" in text
    assert "clean: plain: removed 0 cache entries (this adapter keeps no build cache of its own)" in text
    assert pruning.calls == [("prune_caches",)]
    out = io.StringIO()
    assert main(["clean"], out=out) == Exit.OK and "cache" not in out.getvalue()


def test_an_output_path_that_cannot_be_written_is_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["schema", "-o", str(tmp_path / "absent" / "schema.json")]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("seatrial schema: ") and "No such file or directory" in err


def test_run_of_a_path_that_does_not_exist_is_a_usage_error_of_run(tmp_path, capsys):
    assert main(["run", str(tmp_path / "absent"), "--engine", "reference"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("usage: seatrial run") and "absent: no such file or folder" in err


def test_report_baseline_that_is_no_engine_of_the_results_lists_the_engines(tmp_path):
    out = io.StringIO()
    assert (
        main(["report", str(RESULTS / "full"), "--baseline", "dockr", "-o", str(tmp_path)], out=out) == Exit.BAD_INPUT
    )
    assert "--baseline 'dockr' is not an engine in these results; engines: docker, podman" in out.getvalue()
