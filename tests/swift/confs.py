"""ingot configurations for the Swift tests: a fresh ConfigOpts per call, from an INI file,
so every test sees exactly the options it wrote."""

from __future__ import annotations

import pathlib
import secrets
from collections.abc import Mapping

from oslo_config import cfg

from ingot import conf as ingot_conf

Sections = Mapping[str, Mapping[str, object]]


def make_conf(workdir: pathlib.Path, sections: Sections) -> cfg.ConfigOpts:
    path = workdir / f"ingot-{secrets.token_hex(4)}.conf"
    path.write_text(render(sections))
    return load_conf(path)


def load_conf(path: pathlib.Path) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    for module in ingot_conf.modules():
        module.register(conf)
    conf(args=[], project="ingot", default_config_files=[str(path)],
         default_config_dirs=[])
    return conf


def render(sections: Sections) -> str:
    return "".join(f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in
                                           options.items()) + "\n"
                   for name, options in sections.items())


def merged(*layers: Sections) -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = {}
    for layer in layers:
        for name, options in layer.items():
            result.setdefault(name, {}).update(options)
    return result
