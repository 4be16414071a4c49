"""The command line: `python -m subtext [command]`, `up` when no command is given."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from analysis.base import ModelNotAvailable
from subtext import __version__, scrub
from subtext.config import Config, ConfigError, load
from subtext.scopes import ROLES, SCOPES

DESCRIPTION = """\
Subtext: a self-hosted brand opinion monitor that reads between the lines.

With no command, starts the engine and the dashboard (`up`). With no --config, runs the bundled
demo: two competing phone brands, English and Chinese posts, replayed over the last 30 days.
"""

COMMANDS = {
    "up": "start the engine and the dashboard together (the default); Ctrl-C stops both",
    "engine": "run the engine alone: scheduled collect/analyze/alert jobs and the HTTP API",
    "dashboard": "run the Streamlit dashboard alone (a client of the engine's API)",
    "analyze": "analyze a JSONL file of posts into a JSONL file of verdicts (no database)",
    "collect": "run every source × brand collection once and exit (engine must be stopped)",
    "import": "import posts from a JSONL or CSV file (through the engine when it runs)",
    "alerts": "`alerts test [--channel NAME]`: send a test alert to each configured channel "
              "and print each one's outcome",
    "learn": "refit the deployment's correction layer from reviewed posts, install it only if "
             "it passes the gate (engine must be stopped); --rollback restores the previous",
    "models": "`models check`: load the configured analysis backend, analyze one built-in "
              "example, print device, dtype, load time and latency",
    "users": "dashboard users: `users add NAME --role viewer|analyst|admin`, `users list`, "
             "`users remove NAME`, `users passwd NAME` (engine must be stopped)",
    "tokens": "API tokens: `tokens create NAME --scope read|write|admin`, `tokens list`, "
              "`tokens revoke ID` (engine must be stopped)",
}


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="subtext.toml to use (default: the bundled demo config)")
    common.add_argument("--data-dir", metavar="PATH", default=argparse.SUPPRESS,
                        help="where the database and images live (default: $SUBTEXT_DATA_DIR "
                             "or [storage] data_dir or ./var)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log debug messages")
    top = argparse.ArgumentParser(prog="python -m subtext", description=DESCRIPTION,
                                  parents=[common],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"subtext {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        if name == "analyze":
            command.add_argument("file", type=Path, help="input JSONL: one "
                                 '{"id", "text", "image"?, "lang"?} per line')
            command.add_argument("--out", type=Path, required=True,
                                 help="output JSONL: one verdict (or error) per input line")
            command.add_argument("--runner", choices=["local", "ray"], default=None,
                                 help="where batches run (default: [analysis] runner): ray "
                                      "sends them to the cluster at [analysis] ray_address")
        elif name == "collect":
            command.add_argument("--once", action="store_true", required=True,
                                 help="collect once and exit (scheduled collection is the "
                                      "engine's job)")
        elif name == "models":
            command.add_argument("action", choices=["check"],
                                 help="check: load the configured backend and time one example")
        elif name == "users":
            command.add_argument("action", choices=["add", "list", "remove", "passwd"])
            command.add_argument("name", nargs="?", help="the user name (not for list)")
            command.add_argument("--role", choices=list(ROLES), default="viewer",
                                 help="add: viewer reads, analyst also acknowledges and "
                                      "corrects, admin also manages (default: viewer)")
        elif name == "tokens":
            command.add_argument("action", choices=["create", "list", "revoke"])
            command.add_argument("name", nargs="?",
                                 help="create: what the token is for; revoke: its id")
            command.add_argument("--scope", choices=list(SCOPES), default="read",
                                 help="read: GET only; write: also ingest, acknowledge, "
                                      "feedback; admin: everything (default: read)")
            command.add_argument("--user", help="the dashboard user it belongs to (optional)")
            command.add_argument("--days", type=int, help="expire after this many days")
        elif name == "alerts":
            command.add_argument("action", choices=["test"], help="test: send a test alert")
            command.add_argument("--channel", metavar="NAME", help="only this channel")
        elif name == "learn":
            command.add_argument("--rollback", action="store_true",
                                 help="uninstall the newest learned layer")
            command.add_argument("--margin", type=float, default=0.02,
                                 help="dev accuracy a candidate may lose (default 0.02)")
        elif name == "import":
            command.add_argument("file", type=Path, help="posts as .jsonl or .csv: id, text, "
                                 "created_at?, author?, url?, lang?, images? (paths or URLs)")
    return top


def overlap_filter(record: logging.LogRecord) -> bool:
    """Drop apscheduler's warning that a run was skipped because the previous one still runs:
    an analysis pass over a backlog outlasts its interval by design (each pass works up to
    its time budget), so the warning would repeat every few seconds on a healthy start."""
    return "maximum number of running instances reached" not in record.getMessage()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    # two lines per job run, every few seconds; a failing job is still logged (ERROR)
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(overlap_filter)
    scrub.install_log_filter()
    try:
        config = load(getattr(args, "config", None), getattr(args, "data_dir", None))
        return COMMAND_FUNCTIONS[args.command or "up"](config, args)
    except ConfigError as exc:
        print(f"subtext: bad config: {exc}", file=sys.stderr)
        return 2
    except ModelNotAvailable as exc:  # a configured model that is not on this machine
        print(f"subtext: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # users/tokens: a refused name, role, password or scope
        if args.command not in ("users", "tokens"):
            raise
        print(f"subtext: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _forwarded(args: argparse.Namespace) -> list[str]:
    """The global options again, for a child process."""
    out = []
    for option in ("config", "data_dir"):
        if hasattr(args, option):
            out += [f"--{option.replace('_', '-')}", str(Path(getattr(args, option)).resolve())]
    return out


def cmd_up(config: Config, args: argparse.Namespace) -> int:
    from subtext.supervisor import up

    if not _ports_free(config, config.api_port, config.dashboard_port):
        return 1
    return up(config, _forwarded(args))


def cmd_engine(config: Config, args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    from data.store import StoreLocked
    from subtext.access import exposure_problem
    from subtext.api import create_app
    from subtext.engine import Engine
    from subtext.supervisor import HTTP_GRACE_S

    if not _ports_free(config, config.api_port):
        return 1
    try:
        engine = Engine(config)
    except StoreLocked as exc:
        print(f"subtext: {exc}", file=sys.stderr)
        return 1
    if problem := exposure_problem(config, engine.store):
        engine.stop()
        print(f"subtext: refusing to start: {problem}", file=sys.stderr)
        return 1
    app = create_app(engine)
    # What start-up loaded (modules, models) lives as long as the process: frozen, the
    # collector stops walking it on every full collection (a sixth of ingest's CPU time).
    gc.collect()
    gc.freeze()
    # log_config=None: uvicorn logs through the root handlers, whose filter scrubs secrets.
    uvicorn.run(app, host=config.api_host, port=config.api_port,
                log_level="info", log_config=None, timeout_graceful_shutdown=HTTP_GRACE_S)
    return 0


def cmd_dashboard(config: Config, args: argparse.Namespace) -> int:
    import subprocess

    from subtext.supervisor import dashboard_command, dashboard_env

    print(f"Dashboard at http://localhost:{config.dashboard_port} "
          f"(engine API expected at {config.api_url})", flush=True)
    return subprocess.call(dashboard_command(config), env=dashboard_env(config))


def cmd_analyze(config: Config, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from analysis.base import load_analyzer
    from analysis.runners import LocalRunner, RayRunner, RunnerUnavailable
    from subtext import batch
    from subtext.config import check_ray_address

    if not args.file.is_file():
        print(f"subtext: no such file: {args.file}", file=sys.stderr)
        return 2
    settings = replace(config.analysis, runner=args.runner or config.analysis.runner)
    if settings.runner == "ray":
        check_ray_address(config.path or "-", settings.ray_address)
        runner = RayRunner(settings)  # the workers load the analyzer, this process does not
        try:
            runner.connect()
        except RunnerUnavailable as exc:  # never a silent fall-back to the local runner
            print(f"subtext: {exc}", file=sys.stderr)
            return 1
    else:
        runner = LocalRunner(load_analyzer(settings), settings.batch_size)
    try:
        failed = batch.run(runner, args.file, args.out, runner.batch_posts)
    finally:
        runner.close()
    print(f"wrote {args.out}" + (f"; {failed} line(s) failed" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0


def cmd_collect(config: Config, args: argparse.Namespace) -> int:
    from data.store import StoreLocked
    from subtext.engine import Engine

    try:
        engine = Engine(config)
    except StoreLocked as exc:
        print(f"subtext: {exc}", file=sys.stderr)
        return 1
    try:
        results = engine.collect_all()
    finally:
        engine.stop()
    failed = 0
    for (source, brand), result in results.items():
        if result is None:
            failed += 1
            print(f"{source} × {brand}: failed (see the log above)", file=sys.stderr)
        else:
            print(f"{source} × {brand}: {result.fetched} fetched, {result.new} new")
    return 1 if failed else 0


def cmd_import(config: Config, args: argparse.Namespace) -> int:
    from data.store import StoreLocked
    from subtext import importer

    if not args.file.is_file():
        print(f"subtext: no such file: {args.file}", file=sys.stderr)
        return 2
    try:
        report = importer.run(config, args.file, short_lived=True)
    except (StoreLocked, ValueError, RuntimeError) as exc:
        print(f"subtext: {exc}", file=sys.stderr)
        return 1
    print(f"imported {report.rows - report.failed} of {report.rows} rows via {report.via}: "
          f"{report.new} new, {report.updated} updated, {report.failed} failed")
    return 1 if report.failed else 0


def cmd_users(config: Config, args: argparse.Namespace) -> int:
    from data import access as db
    from subtext import access

    if args.action != "list" and not args.name:
        print(f"subtext: users {args.action} needs a NAME", file=sys.stderr)
        return 2
    with _open_store(config) as store:
        if args.action == "list":
            for user in db.list_users(store):
                print(f"{user.name:<24} {user.role:<8} created "
                      f"{user.created_at.isoformat(timespec='minutes')}")
            return 0
        if args.action == "remove":
            if not db.remove_user(store, args.name):
                print(f"subtext: no user {args.name!r}", file=sys.stderr)
                return 1
            print(f"removed user {args.name} (and revoked their tokens)")
            return 0
        password = _new_password()
        if args.action == "passwd":
            if not db.set_password(store, args.name, access.hash_password(password)):
                print(f"subtext: no user {args.name!r}", file=sys.stderr)
                return 1
            print(f"changed the password of {args.name}")
            return 0
        access.add_user(store, args.name, args.role, password)
        print(f"added user {args.name} ({args.role})")
    return 0


def cmd_tokens(config: Config, args: argparse.Namespace) -> int:
    from collectors.post import utcnow
    from data import access as db
    from subtext import access

    with _open_store(config) as store:
        if args.action == "list":
            now = utcnow()
            for row in db.list_tokens(store):
                print(access.describe_token(row, now))
            return 0
        if not args.name:
            print(f"subtext: tokens {args.action} needs a NAME (create) or ID (revoke)",
                  file=sys.stderr)
            return 2
        if args.action == "revoke":
            if not db.revoke_token(store, args.name):
                print(f"subtext: no active token {args.name!r}", file=sys.stderr)
                return 1
            print(f"revoked token {args.name}")
            return 0
        token = access.create_token(store, args.name, args.scope, args.user, args.days)
    print(f"created a {args.scope} token for {args.name}; it is shown only this once:\n"
          f"{token}\nsend it as 'Authorization: Bearer <token>' (or set SUBTEXT_API_TOKEN "
          "for the dashboard and `subtext import`)")
    return 0


def _open_store(config: Config):
    from data.store import Store, StoreLocked

    try:
        return Store.open(config.data_dir)
    except StoreLocked as exc:
        raise ValueError(f"{exc}; users and tokens are managed with the engine stopped") from None


def _new_password() -> str:
    """From SUBTEXT_NEW_PASSWORD (scripts), else asked twice on the terminal."""
    import getpass
    import os

    if password := os.environ.get("SUBTEXT_NEW_PASSWORD"):
        return password
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


EXAMPLE_TEXT = "这产品真厉害，让我三天没睡着 🙂"  # praise in the words, a panda-eyed face below


def cmd_models(config: Config, args: argparse.Namespace) -> int:
    """Load the configured backend and time it on one built-in example (text + image)."""
    import tempfile
    import time

    from analysis.base import analyzer_id, load_analyzer
    from analysis.verdict import Item

    settings = config.analysis
    print(f"backend   {settings.backend}", flush=True)
    start = time.perf_counter()
    analyzer = load_analyzer(settings)  # ModelNotAvailable: main() prints how to fix it
    try:
        info = analyzer.describe() if hasattr(analyzer, "describe") else {}
        load_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder:
            item = Item(text=EXAMPLE_TEXT, image=_example_image(Path(folder)), lang="zh")
            analyzer.analyze([item])  # warm-up: first-call allocations and kernel choices
            start = time.perf_counter()
            verdict = analyzer.analyze([item])[0]
            latency_ms = (time.perf_counter() - start) * 1000
    except ModelNotAvailable:
        raise
    except Exception as exc:  # a model that loads but does not run: say what, not a traceback
        print(f"subtext: models check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        getattr(analyzer, "close", lambda: None)()
    print(f"analyzer  {analyzer_id(analyzer)}\n"
          + (f"model     {info['model']}\n" if info.get("model") else "")
          + f"device    {info.get('device', 'cpu')}\n"
          f"dtype     {info.get('dtype', '-')}\n"
          f"load      {load_s:.2f} s\n"
          f"latency   {latency_ms:.0f} ms (one item with an image, after a warm-up)\n"
          f"verdict   {verdict.label} (confidence {verdict.confidence:.2f}): "
          f"{verdict.explanation}")
    if verdict.evidence.get("error"):
        print(f"subtext: the model answered, but not usably: {verdict.evidence['error']}",
              file=sys.stderr)
        return 1
    return 0


def _example_image(folder: Path) -> Path:
    """A drawn reaction face with dark rings under the eyes (no font needed)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (256, 256), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((28, 28, 228, 228), fill="#f2f2f2", outline="black", width=4)
    for x in (70, 146):
        draw.ellipse((x, 80, x + 40, 125), fill="#222222")  # panda eyes
        draw.ellipse((x + 14, 95, x + 26, 107), fill="white")
    draw.arc((86, 150, 170, 200), start=200, end=340, fill="black", width=4)  # a forced smile
    path = folder / "example.png"
    image.save(path)
    return path


def cmd_alerts(config: Config, args: argparse.Namespace) -> int:
    from alerts.cli import test_channels

    return test_channels(config, args.channel)


def cmd_learn(config: Config, args: argparse.Namespace) -> int:
    from analysis.base import analyzer_id, load_analyzer
    from data.store import Store, StoreLocked
    from subtext import learning

    base = analyzer_id(load_analyzer(config.analysis))  # models load lazily: this is cheap
    try:
        store = Store.open(config.data_dir)
    except StoreLocked as exc:
        print(f"subtext: {exc}", file=sys.stderr)
        return 1
    with store:
        if args.rollback:
            try:
                now = learning.rollback(store, config.data_dir, base)
            except ValueError as exc:
                print(f"subtext: {exc}", file=sys.stderr)
                return 1
            print(f"rolled back: verdicts are now {now}")
            return 0
        report = learning.run(store, config.data_dir, base, args.margin)
    print(report.lines())
    print(f"report: {config.data_dir / 'learned' / f'report-{report.version}.json'}")
    return 0 if report.installed else 1


COMMAND_FUNCTIONS = {"up": cmd_up, "engine": cmd_engine, "dashboard": cmd_dashboard,
                     "analyze": cmd_analyze, "collect": cmd_collect, "import": cmd_import,
                     "models": cmd_models, "users": cmd_users, "tokens": cmd_tokens,
                     "alerts": cmd_alerts, "learn": cmd_learn}


def _ports_free(config: Config, *ports: int) -> bool:
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((config.api_host, port))
            except OSError:
                print(f"subtext: port {port} on {config.api_host} is in use (is Subtext already "
                      "running?). Stop it, or set another port in the config.", file=sys.stderr)
                return False
    return True

