"""What every command shares: the settings flags and turning them into a config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig, _base_type, load_config, settings


def common_parser() -> argparse.ArgumentParser:
    """A parent parser: ``--config`` plus one flag per setting, all defaulting to unset."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("settings (also KIOSK_<NAME> variables or the TOML file)")
    group.add_argument("--config", type=Path, metavar="FILE",
                       help="TOML settings file (default: /etc/kiosk/kiosk.toml if present)")
    for info in settings():
        tp, _ = _base_type(info.type)
        kwargs: dict[str, Any] = {"dest": "setting_" + info.name, "default": None,
                                  "help": f"{info.help} [{info.env}]"}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["metavar"] = info.name.upper()
        group.add_argument(info.flag, **kwargs)
    return common


def config_from_args(args: argparse.Namespace) -> KioskConfig:
    """Load the configuration with the flags that were given on top."""
    overrides = {
        key.removeprefix("setting_"): value
        for key, value in vars(args).items()
        if key.startswith("setting_") and value is not None
    }
    return load_config(config_file=getattr(args, "config", None), overrides=overrides)
