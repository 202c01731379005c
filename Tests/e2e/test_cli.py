"""The command line itself (SPEC §1, README "Commands"): `version`, `--help`, usage errors, where the
configuration comes from, and `events flush`'s exit status when Events must keep waiting."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

import harness as h

SAMPLE_CONFIG = h.SAMPLES / "config.yaml"
DEFAULT_CONFIG = "/etc/podinject/config.yaml"
# The SPEC's six commands, and `metrics` (README, "Metrics").
COMMANDS = ["review", "apply", "explain", "check-config", "events flush", "metrics", "version"]


def _readme_exit_status(what: str) -> int:
    """The exit status README.md documents for `what` ("... N from `events flush` when ...")."""
    readme = (h.REPO / "README.md").read_text()
    text = " ".join(readme.split())
    m = re.search(r"(\d+) from `events flush` when ([^;.]*)", text)
    assert m, "README.md no longer documents the exit status of `events flush`"
    assert what in m.group(2), m.group(0)
    return int(m.group(1))


# --------------------------------------------------------------------------------------------
# version and --help
# --------------------------------------------------------------------------------------------


def test_version(podinject_bin):
    r = h.run_podinject(["version"])
    assert r.returncode == 0, r.describe()
    assert re.fullmatch(r"podinject \d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?\n", r.out), r.out
    assert r.stderr == b"", r.describe()
    # `--version` says the same
    alt = h.run_podinject(["--version"])
    assert alt.returncode == 0 and alt.out == r.out, alt.describe()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_command(flag, podinject_bin):
    r = h.run_podinject([flag])
    assert r.returncode == 0, r.describe()
    listed = []
    for line in r.out.splitlines():
        m = re.match(r"^\s{2,}(events flush|[a-z][a-z-]*)(?: \(default\))?\s{2,}\S", line)
        if m:
            listed.append(m.group(1))
    assert listed == COMMANDS, f"--help lists {listed}, expected {COMMANDS}\n{r.out}"
    assert re.search(r"^\s+review \(default\)", r.out, re.M), "review is the default command"


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, podinject_bin):
    r = h.run_podinject([*command.split(), "--help"])
    assert r.returncode == 0, r.describe()
    assert f"USAGE: podinject {command}" in r.out, r.out
    if command not in ("version",):
        assert "--config PATH" in r.out, r.out


# --------------------------------------------------------------------------------------------
# Usage errors: exit 1, one line naming the mistake (then the command's own help), nothing on stdout
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv,names,help_of", [
    (["--bogus"], "--bogus", "review"),
    (["frobnicate"], "frobnicate", None),
    (["check-config", "--config", str(SAMPLE_CONFIG), "--bogus"], "--bogus", "check-config"),
    (["apply", "--nope"], "--nope", "apply"),
    (["events"], "flush", None),
    (["events", "frob"], "flush", None),
    (["--config"], "--config", "review"),
], ids=["unknown-option", "unknown-command", "check-config-unknown-option", "apply-unknown-option",
        "events-without-flush", "events-unknown-subcommand", "option-without-value"])
def test_usage_error_exits_1(argv, names, help_of, podinject_bin):
    # A review on stdin must not be answered: the command line is wrong.
    r = h.run_podinject(argv, (h.SAMPLES / "review-plain-pod.json").read_bytes())
    assert r.returncode == 1, r.describe()
    assert r.stdout == b"", f"a usage error writes nothing on stdout\n{r.describe()}"
    first, _, rest = r.err.partition("\n")
    assert first.startswith("podinject: error: ") and names in first, r.describe()
    if rest.strip():
        # Whatever follows the one-line message is the command's own --help text, nothing else.
        assert help_of is not None, r.describe()
        assert rest.strip("\n") == h.run_podinject([*help_of.split(), "--help"]).out.strip("\n"), r.describe()


@pytest.mark.parametrize("word", ["foo", "aply", "flush"])
def test_unknown_command_has_its_own_message(word, podinject_bin):
    """A word that is no command is not taken for an argument of the default command: its own one-line
    message, naming the word and pointing at --help; exit 1; the review on stdin is not answered."""
    r = h.run_podinject([word, "-f", "x"], (h.SAMPLES / "review-plain-pod.json").read_bytes())
    assert r.returncode == 1, r.describe()
    assert r.stdout == b"", r.describe()
    (line,) = r.err.splitlines()
    assert line.startswith(f'podinject: error: unknown command "{word}"'), line
    assert "podinject --help" in line, line
    suggested = {"aply": "apply", "flush": "events flush"}.get(word)
    if suggested:
        assert f'did you mean "{suggested}"' in line, line


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_events_group_help_lists_flush(flag, podinject_bin):
    r = h.run_podinject(["events", flag])
    assert r.returncode == 0, r.describe()
    assert r.stderr == b"", r.describe()
    assert "USAGE: podinject events <subcommand>" in r.out, r.out
    listed = [m.group(1) for m in re.finditer(r"^\s{2,}([a-z][a-z-]*)\s{2,}\S", r.out, re.M)]
    assert listed == ["flush"], (listed, r.out)
    assert "podinject events flush --help" in r.out, r.out


def test_events_unknown_subcommand_names_it(podinject_bin):
    r = h.run_podinject(["events", "frob"])
    assert r.returncode == 1 and r.stdout == b"", r.describe()
    (line,) = r.err.splitlines()
    assert line.startswith('podinject: error: unknown events command "frob"') and "flush" in line, line


# --------------------------------------------------------------------------------------------
# check-config and where the configuration comes from
# --------------------------------------------------------------------------------------------


def _diagnostic_lines(r: h.Result) -> list[str]:
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert lines, r.describe()
    return lines


def test_check_config_missing_file(podinject_bin):
    r = h.run_podinject(["check-config", "--config", "/nonexistent"])
    assert r.returncode == 1, r.describe()
    assert r.stdout == b"", r.describe()
    (line,) = _diagnostic_lines(r)
    # The file as a whole, not a line of it: never `file:0:`.
    assert re.fullmatch(r"/nonexistent: cannot read: No such file or directory", line), line


def test_check_config_valid_file(podinject_bin):
    r = h.run_podinject(["check-config", "--config", str(SAMPLE_CONFIG)])
    assert r.returncode == 0, r.describe()
    rules = len(h.load_yaml(SAMPLE_CONFIG)["rules"])
    assert r.out == f"{SAMPLE_CONFIG}: OK, {rules} rule(s)\n", r.out


def test_check_config_reports_file_and_line(tmp_path, podinject_bin):
    """An unknown key is an error with the line and column it is at (SPEC §2)."""
    lines = SAMPLE_CONFIG.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("statusAnnotation:"))
    lines.insert(at, "statusAnotation: typo")  # an unknown top-level key
    bad = tmp_path / "config.yaml"
    bad.write_text("\n".join(lines) + "\n")
    r = h.run_podinject(["check-config", "--config", str(bad)])
    assert r.returncode == 1, r.describe()
    assert any(re.match(re.escape(f"{bad}:{at + 1}:1:") + r" .*statusAnotation", ln)
               for ln in _diagnostic_lines(r)), r.describe()


@pytest.mark.parametrize("env_value", [None, ""], ids=["unset", "empty"])
def test_default_config_path(env_value, podinject_bin):
    """Neither --config nor $PODINJECT_CONFIG: /etc/podinject/config.yaml."""
    env = h.clean_env({} if env_value is None else {"PODINJECT_CONFIG": env_value})
    r = h.run_podinject(["check-config"], env=env)
    if Path(DEFAULT_CONFIG).exists():  # a machine with podinject installed
        assert r.out.startswith(f"{DEFAULT_CONFIG}: OK"), r.describe()
    else:
        assert r.returncode == 1, r.describe()
        (line,) = _diagnostic_lines(r)
        assert line.startswith(f"{DEFAULT_CONFIG}:"), line


@pytest.mark.skipif(Path(DEFAULT_CONFIG).exists(), reason=f"{DEFAULT_CONFIG} exists on this machine")
def test_review_uses_the_default_config_path(podinject_bin):
    """The webhook with no config anywhere: ConfigInvalid, naming the default path, and the pod admitted."""
    r = h.run_podinject([], (h.SAMPLES / "review-plain-pod.json").read_bytes())
    assert r.returncode == 0, r.describe()
    resp = h.response_of(r.json())
    assert resp["allowed"] is True
    assert DEFAULT_CONFIG in resp["auditAnnotations"]["error"], resp
    assert "ConfigInvalid" in resp["auditAnnotations"]["error"], resp


def test_podinject_config_is_honoured(tmp_path, podinject_bin):
    env = h.clean_env({"PODINJECT_CONFIG": str(SAMPLE_CONFIG)})
    r = h.run_podinject(["check-config"], env=env)
    assert r.returncode == 0 and r.out.startswith(f"{SAMPLE_CONFIG}: OK"), r.describe()
    # ... and a missing one is reported under its own name, not the default's
    env = h.clean_env({"PODINJECT_CONFIG": str(tmp_path / "absent.yaml")})
    r = h.run_podinject(["check-config"], env=env)
    assert r.returncode == 1, r.describe()
    (line,) = _diagnostic_lines(r)
    assert line.startswith(f"{tmp_path / 'absent.yaml'}:"), line


def test_config_option_wins_over_environment(tmp_path, podinject_bin):
    env = h.clean_env({"PODINJECT_CONFIG": str(tmp_path / "absent.yaml")})
    r = h.run_podinject(["check-config", "--config", str(SAMPLE_CONFIG)], env=env)
    assert r.returncode == 0 and r.out.startswith(f"{SAMPLE_CONFIG}: OK"), r.describe()


def test_review_reads_podinject_config(tmp_path, podinject_bin):
    """The webhook (the default command) takes its rules from $PODINJECT_CONFIG."""
    config = h.config_copy(SAMPLE_CONFIG, tmp_path, api="none")
    review = json.loads((h.SAMPLES / "review-plain-pod.json").read_bytes())
    r = h.run_podinject([], h.review_bytes(review), env=h.clean_env({"PODINJECT_CONFIG": str(config)}))
    assert r.returncode == 0, r.describe()
    patched = h.apply_patch(review["request"]["object"], h.patch_of(r.json()))
    assert h.status_annotation(patched) == {
        "applied": ["app-identity", "tracing", "log-shipper", "registry-credentials"], "failed": []}


# --------------------------------------------------------------------------------------------
# events flush with the API server unreachable
# --------------------------------------------------------------------------------------------


def test_events_flush_with_api_down_exits_as_the_readme_says(tmp_path, closed_port, podinject_bin):
    expected = _readme_exit_status("the API server is unreachable")
    assert expected == 3
    config = h.config_copy(SAMPLE_CONFIG, tmp_path, timeoutMilliseconds=1000)
    kubeconfig = h.write_kubeconfig(tmp_path / "kubeconfig", closed_port)
    outbox = tmp_path / "outbox"
    # A failing rule puts one Event in the outbox; delivering it fails (connection refused) and leaves it.
    r = h.run_podinject(["--config", str(config), "--kubeconfig", str(kubeconfig)],
                        (h.SAMPLES / "review-template-failure.json").read_bytes())
    assert r.returncode == 0, r.describe()
    waiting = sorted(p.name for p in outbox.iterdir() if p.is_file() and not p.name.startswith("."))
    assert len(waiting) == 1, (waiting, r.describe())

    flush = h.run_podinject(["events", "flush", "--config", str(config), "--kubeconfig", str(kubeconfig)],
                            timeout=5)
    assert flush.returncode == expected, flush.describe()
    assert sorted(p.name for p in outbox.iterdir() if p.is_file() and not p.name.startswith(".")) == waiting, \
        "the Event must stay in the outbox for a later deliverer"
    line = h.stderr_json_lines(flush)[-1]
    assert line["events"]["sent"] == 0 and line["events"].get("waiting") == 1, line
    # $KUBECONFIG works the same as --kubeconfig
    flush = h.run_podinject(["events", "flush", "--config", str(config)], timeout=5,
                            env=h.clean_env({"KUBECONFIG": str(kubeconfig)}))
    assert flush.returncode == expected, flush.describe()


def test_events_flush_with_nothing_waiting_succeeds(tmp_path, closed_port, podinject_bin):
    """Exit 3 means Events are waiting, not merely that the API server is down."""
    config = h.config_copy(SAMPLE_CONFIG, tmp_path)
    kubeconfig = h.write_kubeconfig(tmp_path / "kubeconfig", closed_port)
    flush = h.run_podinject(["events", "flush", "--config", str(config), "--kubeconfig", str(kubeconfig)],
                            timeout=5)
    assert flush.returncode == 0, flush.describe()


# --------------------------------------------------------------------------------------------
# The README's two commands (issue 2: "the two commands (main job on the samples, all tests)")
# --------------------------------------------------------------------------------------------


def readme_quickstart() -> list[tuple[str, str]]:
    """(command, comment) of each line of the README's first fenced shell block."""
    readme = (h.REPO / "README.md").read_text()
    m = re.search(r"^```(?:sh|bash|shell|console)\n(.*?)^```", readme, re.S | re.M)
    assert m, "README.md has no fenced shell block"
    out = []
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        command, _, comment = line.partition("#")
        out.append((" ".join(command.split()), comment.strip()))
    return out


def makefile_rules() -> dict[str, list[str]]:
    """target -> recipe lines, variables expanded with the Makefile's own assignments."""
    text = (h.REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.*?)\s*$", text, re.M))
    rules: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", line)
        if m and not line.startswith("\t"):
            current = m.group(1)
            rules.setdefault(current, [])
        elif line.startswith("\t") and current:
            recipe = line[1:]
            for _ in range(5):
                recipe = re.sub(r"\$\((\w+)\)", lambda v: variables.get(v.group(1), v.group(0)), recipe)
            rules[current].append(recipe.strip())
        elif line.strip() and not line.startswith("#"):
            current = None
    return rules


def test_readme_first_block_is_the_two_make_commands():
    quick = readme_quickstart()
    commands = [c for c, _ in quick]
    assert commands == ["make sample", "make test"], commands
    rules = makefile_rules()
    phony = re.search(r"^\.PHONY:(.*)$", (h.REPO / "Makefile").read_text(), re.M)
    for c in commands:
        target = c.split()[1]
        assert rules.get(target), f"`{c}`: the Makefile has no recipe for {target!r}"
        assert phony and target in phony.group(1).split(), f"{target} is not .PHONY"
        proc = _make_dry_run(target)
        assert proc.returncode == 0, proc.stderr
    # CI runs the README's test command (issue 2: ".ci/run calls the README's test command")
    ci = [ln.strip() for ln in (h.REPO / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci[-1] == "make test", ci


def _sample_command() -> str:
    """The admission `make sample` runs: `podinject ARGS < REVIEW`."""
    (line,) = [ln for ln in makefile_rules()["sample"] if "podinject" in ln and "<" in ln]
    return line


def _make_dry_run(target: str) -> subprocess.CompletedProcess:
    """`make -n TARGET` as a person would run it: outside any other make (under `make test` the inherited
    MAKEFLAGS/MAKELEVEL would add "Entering directory" lines)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return subprocess.run(["make", "--no-print-directory", "-n", target], cwd=h.REPO, env=env, capture_output=True,
                          text=True, timeout=30)


def test_make_sample_recipe_matches_make_and_the_readme():
    line = _sample_command()
    dry = _make_dry_run("sample")
    assert dry.returncode == 0 and line in [ln.strip() for ln in dry.stdout.splitlines()], (dry.stdout, line)
    comment = dict(readme_quickstart())["make sample"]
    named = re.findall(r"samples/[\w.-]+", comment)
    assert named, comment
    for path in named:
        assert path in line.split() or f"<{path}" in line.replace(" ", ""), (path, line)
        assert (h.REPO / path).is_file(), path


def test_make_sample_admits_the_sample(tmp_path, podinject_bin):
    """The command `make sample` runs (after its build), run as is: an allowed answer with a patch."""
    line = _sample_command()
    argv = shlex.split(line)
    assert argv.count("<") == 1 and argv.index("<") == len(argv) - 2, f"expected `podinject ARGS < FILE`: {line}"
    review_path = h.REPO / argv[-1]
    argv = argv[:-2]
    assert (h.REPO / argv[0]).resolve() == (h.REPO / ".build/release/podinject").resolve(), argv
    argv[0] = str(h.BIN)  # the binary under test (PODINJECT_BIN)
    env = h.clean_env({"PODINJECT_CACHE_DIR": str(tmp_path / "cache")}, home=tmp_path)
    with review_path.open("rb") as stdin:
        proc = subprocess.run(argv, stdin=stdin, cwd=h.REPO, env=env, capture_output=True, timeout=h.TIMEOUT)
    assert proc.returncode == 0, proc.stderr.decode()
    review = json.loads(review_path.read_bytes())
    answer = json.loads(proc.stdout)
    h.check_echo(answer, review)
    resp = h.response_of(answer)
    assert resp["allowed"] is True and not resp.get("warnings"), resp
    patched = h.apply_patch(review["request"]["object"], h.patch_of(answer))
    status = h.status_annotation(patched)
    assert status["applied"] and status["failed"] == [], status


def test_make_sample_ends_with_something_a_person_can_read(tmp_path, podinject_bin):
    """After the raw answer (one long JSON line), `make sample` ends with explain's report of the same
    admission with the same config: rule by rule, and the decision."""
    rules = makefile_rules()["sample"]
    admit = shlex.split(_sample_command())
    last = shlex.split(rules[-1])
    assert rules.index(_sample_command()) < len(rules) - 1, rules
    assert (h.REPO / last[0]).resolve() == (h.REPO / ".build/release/podinject").resolve() and last[1] == "explain", last
    assert last[last.index("-f") + 1] == admit[-1], (last, admit)
    assert last[last.index("--config") + 1] == admit[admit.index("--config") + 1], (last, admit)
    env = h.clean_env({"PODINJECT_CACHE_DIR": str(tmp_path / "cache")}, home=tmp_path)
    proc = subprocess.run([str(h.BIN), *last[1:]], cwd=h.REPO, env=env, capture_output=True, text=True,
                          timeout=h.TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("AdmissionReview ") and any(ln.startswith("  rule ") for ln in lines), lines
    assert lines[-1].startswith("decision: allowed, "), lines


def test_readme_says_where_the_binary_is_and_make_install_installs_it(tmp_path):
    readme = (h.REPO / "README.md").read_text()
    quick = readme[:readme.index("## How one admission works")]
    assert ".build/release/podinject" in quick and "make install" in quick, quick
    assert "install" in re.search(r"^\.PHONY:(.*)$", (h.REPO / "Makefile").read_text(), re.M).group(1).split()
    dry = subprocess.run(["make", "--no-print-directory", "-n", "install", f"PREFIX={tmp_path}/usr"], cwd=h.REPO,
                         capture_output=True, text=True, timeout=30,
                         env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
    assert dry.returncode == 0, dry.stderr
    assert f"{tmp_path}/usr/bin/podinject" in dry.stdout.splitlines()[-1], dry.stdout


def test_readme_debugging_examples_name_the_config():
    readme = (h.REPO / "README.md").read_text()
    section = readme[readme.index("## Debugging with"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    for line in block.splitlines():
        if line.startswith("podinject "):
            assert "--config " in line.split("#")[0], line


def test_events_flush_without_any_api_leaves_waiting_events_waiting(tmp_path, closed_port, podinject_bin):
    """No --kubeconfig, $KUBECONFIG or service account: Events spooled earlier stay, and flush says so (3)."""
    config = h.config_copy(SAMPLE_CONFIG, tmp_path)
    kubeconfig = h.write_kubeconfig(tmp_path / "kubeconfig", closed_port)
    r = h.run_podinject(["--config", str(config), "--kubeconfig", str(kubeconfig)],
                        (h.SAMPLES / "review-template-failure.json").read_bytes())
    assert r.returncode == 0, r.describe()
    flush = h.run_podinject(["events", "flush", "--config", str(config)], timeout=5,
                            env=h.clean_env(home=tmp_path))
    assert flush.returncode == _readme_exit_status("the API server is unreachable"), flush.describe()
    assert len([p for p in (tmp_path / "outbox").iterdir() if p.is_file() and not p.name.startswith(".")]) == 1


def test_events_flush_without_any_api_and_nothing_waiting_is_not_3(tmp_path, podinject_bin):
    config = h.config_copy(SAMPLE_CONFIG, tmp_path)
    flush = h.run_podinject(["events", "flush", "--config", str(config)], timeout=5, env=h.clean_env(home=tmp_path))
    assert h.stderr_json_lines(flush)[-1]["events"]["waiting"] == 0, flush.describe()
    assert flush.returncode == 0, f"nothing waits, yet exit {flush.returncode}\n{flush.describe()}"


@pytest.mark.parametrize("api", ["none-configured", "unreachable"])
def test_events_flush_with_nothing_waiting_does_not_say_events_wait(api, tmp_path, closed_port, podinject_bin):
    """An empty outbox is reported as such: no problem saying that Events wait, a level of info, and no
    attempt to reach the API server (nothing to send)."""
    config = h.config_copy(SAMPLE_CONFIG, tmp_path)
    args = ["events", "flush", "--config", str(config)]
    if api == "unreachable":
        args += ["--kubeconfig", str(h.write_kubeconfig(tmp_path / "kubeconfig", closed_port))]
    flush = h.run_podinject(args, timeout=5, env=h.clean_env(home=tmp_path))
    assert flush.returncode == 0, flush.describe()
    (line,) = h.stderr_json_lines(flush)
    assert line["level"] == "info" and not line.get("problems"), line
    assert line["events"] == {"sent": 0, "aggregated": 0, "deferred": 0, "waiting": 0}, line
    assert "wait" not in " ".join(str(v) for k, v in line.items() if k != "events").lower(), line


# --------------------------------------------------------------------------------------------
# apply on a denial (a rule with onError: Deny fails)
# --------------------------------------------------------------------------------------------


def test_apply_exit_status_on_a_denial_is_the_readmes(tmp_path, podinject_bin):
    readme = " ".join((h.REPO / "README.md").read_text().split())
    m = re.search(r"(\d+) from `apply` when a pod is denied \(([^)]*)\)", readme)
    assert m, "README.md does not document the exit status of `apply` on a denial"
    expected = int(m.group(1))
    assert expected == 1, m.group(0)
    assert "`explain` exits 0" in m.group(2), m.group(0)
    review = json.loads((h.SAMPLES / "review-deny.json").read_bytes())
    pod = tmp_path / "pod.json"
    pod.write_text(json.dumps(review["request"]["object"]))
    r = h.run_podinject(["apply", "-f", str(pod), "--config", str(SAMPLE_CONFIG), "-o", "json"])
    assert r.returncode == expected, r.describe()
    assert r.json() == review["request"]["object"], "the denied pod is printed unchanged"
    assert any(": DENIED: " in ln and "database-credentials" in ln for ln in r.err.splitlines()), r.describe()
    explain = h.run_podinject(["explain", "-f", str(pod), "--config", str(SAMPLE_CONFIG)])
    assert explain.returncode == 0 and "decision: DENIED (403)" in explain.out, explain.describe()


@pytest.mark.parametrize("path", ["/nonexistent/dir with space/é☃.yaml", "/nonexistent/" + "x" * 3000,
                                  "/nonexistent/tab\there", "/nonexistent/-leading-dash"])
def test_arguments_arrive_intact(path, podinject_bin):
    """argv reaches the program byte for byte (Sources/CStart/Arguments.c hands it over from the C start-up code),
    whatever it holds and however long it is, with arguments before and after it."""
    r = h.run_podinject(["check-config", "--config", path])
    assert r.returncode == 1, r.describe()
    assert r.err.splitlines()[0] == f"{path}: cannot read: No such file or directory", r.err
    many = h.run_podinject(["check-config"] + ["--config", path] * 200)
    assert many.err.splitlines()[0] == f"{path}: cannot read: No such file or directory", many.err
