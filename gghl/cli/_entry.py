"""What every gghl command does around Hydra: a fast ``--help``, the allow-list check, one-line errors.

Kept free of heavy imports (no torch, lightning, hydra at module level): ``gghl-train --help`` must answer
without loading them, and the console scripts import the entry module before anything else.

Errors: an exception raised by our own code (its class is defined in a ``gghl`` module: config, data, image,
checkpoint errors) or a missing file is printed as ONE line ``error: <message>`` on stderr, exit status 1.
Anything else is a bug and keeps Hydra's traceback. ``GGHL_DEBUG=1`` (or Hydra's ``HYDRA_FULL_ERROR=1``)
re-raises every error with its full traceback. When Hydra refuses an override of a key that does not exist,
the closest existing key is printed after Hydra's message.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gghl.configs import CONFIG_DIR

DEBUG_ENV = "GGHL_DEBUG"
_Result = TypeVar("_Result")
#: Exit status of a command refused for a config, data or checkpoint error.
USER_ERROR_EXIT = 1

_TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):\s*(.*?)\s*$")
_DEFAULT_ENTRY = re.compile(r"^\s*-\s*(?:override\s+)?/?([A-Za-z_][\w/]*)\s*:\s*([\w.-]+)")


def debug_enabled() -> bool:
    """True when the user asked for full tracebacks (``GGHL_DEBUG=1`` or ``HYDRA_FULL_ERROR=1``)."""
    return any(os.environ.get(k, "") not in ("", "0") for k in (DEBUG_ENV, "HYDRA_FULL_ERROR"))


def prepare_environment() -> None:
    """Run-time defaults that must be set before loggers import: wandb never blocks on a login prompt."""
    if not os.environ.get("WANDB_API_KEY") and "WANDB_MODE" not in os.environ:
        os.environ["WANDB_MODE"] = "offline"


def wants_help(argv: Sequence[str]) -> bool:
    """``--help`` / ``-h`` among the arguments (Hydra's own ``--hydra-help`` is left to Hydra)."""
    return any(a in ("--help", "-h") for a in argv[1:])


def _split_comment(value: str) -> tuple[str, str]:
    """``"12   # the number"`` -> ``("12", "the number")``; a ``#`` inside quotes is kept."""
    quote = None
    for i, ch in enumerate(value):
        if ch in "'\"":
            quote = None if quote == ch else (quote or ch)
        elif ch == "#" and quote is None and (i == 0 or value[i - 1].isspace()):
            return value[:i].strip(), value[i + 1 :].strip()
    return value.strip(), ""


def config_help(
    config_name: str,
    summary: str,
    config_dir: str = CONFIG_DIR,
    main_keys: Sequence[tuple[str, str]] = (),
) -> str:
    """Usage text for a command: its summary, the top-level keys of ``gghl/configs/<config_name>.yaml`` with
    their default and comment (continuation comment lines are joined), ``main_keys`` (nested keys worth
    knowing, with a line each), and the config groups with their options.

    Read with plain string parsing (no YAML or Hydra import) so that it is instant.
    """
    path = Path(config_dir) / f"{config_name}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    keys: list[tuple[str, str, str]] = []
    groups: list[tuple[str, str]] = []
    in_defaults = False
    for raw in lines:
        if in_defaults:
            m = _DEFAULT_ENTRY.match(raw)
            if m:
                groups.append((m.group(1), m.group(2)))
                continue
            if raw.startswith((" ", "\t")) or not raw.strip():
                continue
            in_defaults = False
        m = _TOP_KEY.match(raw)
        if m:
            if m.group(1) == "defaults":
                in_defaults = True
                continue
            value, comment = _split_comment(m.group(2))
            keys.append((m.group(1), value, comment))
        elif keys and raw.lstrip().startswith("#") and raw.startswith((" ", "\t")):
            k, v, c = keys[-1]  # an indented comment line continues the previous key's comment
            keys[-1] = (k, v, f"{c} {raw.strip().lstrip('#').strip()}".strip())
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else f"gghl-{config_name}"
    out = [f"usage: {prog} [key=value ...] [group=option ...]", "", summary.strip(), ""]
    if keys:
        out.append(
            f"keys (gghl/configs/{config_name}.yaml; `{prog} --cfg job` prints the whole composed config):"
        )
        width = max(len(k) for k, _, _ in keys)
        for k, v, c in keys:
            shown = f"{k}={v}" if v else k
            out.append(f"  {shown:<{width + 12}} {c}".rstrip())
        out.append("")
    if main_keys:
        out.append("main keys of the config groups:")
        width = max(len(k) for k, _ in main_keys)
        out.extend(f"  {k:<{width + 2}} {d}" for k, d in main_keys)
        out.append("")
    shown_groups = [(g, d) for g, d in groups if g not in ("hydra", "paths", "_self_")]
    if shown_groups:
        out.append("config groups (group=option; default in brackets):")
        for group, default in shown_groups:
            options = sorted(p.stem for p in (Path(config_dir) / group).glob("*.yaml"))
            listed = ", ".join(f"[{o}]" if o == default else o for o in options)
            out.append(f"  {group}: {listed}")
        out.append("")
    out.append(
        f"Errors are one line; {DEBUG_ENV}=1 shows the full traceback. Any nested key can be overridden "
        "(model.lr=1e-3); `+key=value` adds a key that the config does not have."
    )
    return "\n".join(out)


def is_user_error(err: BaseException) -> bool:
    """Errors written to be read by a user: raised by gghl itself, or a file that is not there."""
    if isinstance(err, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)):
        return True
    return type(err).__module__.split(".")[0] == "gghl"


def report_user_error(err: BaseException) -> None:
    """Print ``err`` as one line (plus its cause when that names the place) to stderr."""
    msg = " ".join(str(err).split()) or type(err).__name__
    print(f"error: {msg}", file=sys.stderr)
    print(f"(set {DEBUG_ENV}=1 for the full traceback)", file=sys.stderr)


def _override_keys(argv: Sequence[str]) -> list[str]:
    """Dotted keys of plain ``key=value`` overrides (no ``+``/``~`` and no ``--`` options)."""
    keys = []
    for a in argv[1:]:
        if a.startswith(("-", "+", "~")) or "=" not in a:
            continue
        keys.append(a.split("=", 1)[0])
    return keys


def suggest_key(config_name: str, argv: Sequence[str], config_dir: str = CONFIG_DIR) -> str | None:
    """For the first override naming a key the composed config does not have: ``"unknown key 'a.b'; did you
    mean 'a.c'?"``. Composes the config (group choices from ``argv`` only), so call it on the error path."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import DictConfig, OmegaConf

    keys = _override_keys(argv)
    groups = [
        a
        for a in argv[1:]
        if "=" in a and not a.startswith("-") and "." not in a.split("=", 1)[0].lstrip("+~")
    ]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=groups)
    except Exception:
        return None
    finally:
        GlobalHydra.instance().clear()
    for key in keys:
        parent_path, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_path, throw_on_missing=False) if parent_path else cfg
        if isinstance(parent, DictConfig) and leaf in parent:  # present, even when its value is ??? (missing)
            continue
        if not isinstance(parent, DictConfig):
            return f"unknown key {key!r}: {parent_path!r} is not a config section"
        close = difflib.get_close_matches(leaf, [str(k) for k in parent.keys()], n=1, cutoff=0.6)
        hint = f"; did you mean {(parent_path + '.' if parent_path else '') + close[0]!r}?" if close else ""
        return f"unknown key {key!r}{hint}"
    return None


def checked_command(body: Callable[[Any], _Result]) -> Callable[[Any], _Result]:
    """Make ``body(cfg)`` a command's ``run(cfg)``: every ``_target_`` of the composed config is held to the
    allow-list before ``body`` builds anything, and a config error raised inside names its key and file.

    The one body every ``gghl-*`` command shares, so no command can skip the check; also what tests call
    (``run(cfg)`` without Hydra or the console script).
    """

    @functools.wraps(body)
    def run(cfg: Any) -> _Result:
        from gghl.config import check_targets, config_errors

        with config_errors(cfg):
            check_targets(cfg)  # before anything is instantiated
            return body(cfg)

    return run


def run_command(
    config_name: str,
    summary: str,
    task: Callable[[Any], Any],
    main_keys: Sequence[tuple[str, str]] = (),
) -> None:
    """Entry point body shared by ``gghl-train/eval/export/predict``.

    Args:
        config_name: primary config in ``gghl/configs/`` (``train``, ``eval``, ...).
        summary: the first lines of ``--help``.
        task: called with the composed ``DictConfig``; its return value goes to Hydra (sweepers).
        main_keys: nested keys listed by ``--help`` with a line each.
    """
    if wants_help(sys.argv):
        print(config_help(config_name, summary, main_keys=main_keys))
        return
    prepare_environment()
    import hydra

    reported: list[BaseException] = []

    @hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=config_name)
    def _hydra_task(cfg: Any) -> Any:
        try:
            return task(cfg)
        except Exception as err:
            if debug_enabled() or not is_user_error(err):
                raise
            report_user_error(err)
            reported.append(err)
            sys.exit(USER_ERROR_EXIT)

    try:
        _hydra_task()
    except SystemExit as exit_:
        if exit_.code == 1 and not reported:
            # Hydra exits 1 after printing a composition error; name the closest key when one was mistyped.
            hint = suggest_key(config_name, sys.argv)
            if hint:
                print(f"hint: {hint}", file=sys.stderr)
        raise
