"""Which module serves which `kind` of source in the config, and how it is built.

Settings come from the source's config table; secrets never do. A collector lists its secrets in
SECRETS (name → required) and they are read from the environment as
SUBTEXT_<SOURCE NAME>_<SECRET>, upper-cased, other characters as "_" (a source named
"reddit-main" reads SUBTEXT_REDDIT_MAIN_CLIENT_SECRET).
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping

from collectors.base import Collector, HttpSource
from collectors.bluesky import BlueskySearchCollector, JetstreamCollector
from collectors.folder import FolderCollector
from collectors.hackernews import HackerNewsCollector
from collectors.mastodon import MastodonCollector
from collectors.reddit import RedditCollector
from collectors.replay import ReplayCollector
from collectors.rss import FeedCollector
from collectors.youtube import YouTubeCollector

KINDS: dict[str, type] = {
    "replay": ReplayCollector,
    "mastodon": MastodonCollector,
    "bluesky": BlueskySearchCollector,
    "jetstream": JetstreamCollector,
    "reddit": RedditCollector,
    "hackernews": HackerNewsCollector,
    "rss": FeedCollector,
    "youtube": YouTubeCollector,
    "folder": FolderCollector,
}
NOT_SETTINGS = {"name", "now", "sleep", "self"}


class SettingError(ValueError):
    """A bad setting of a source; `key` is the setting's name (or "-" for the source)."""

    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(reason)


def secret_variable(source: str, secret: str) -> str:
    return "SUBTEXT_" + re.sub(r"[^A-Z0-9]", "_", f"{source}_{secret}".upper())


def build_collector(name: str, kind: str, settings: dict,
                    env: Mapping[str, str] = os.environ) -> Collector:
    """Instantiate the collector of `kind`; raise SettingError naming a bad or missing setting
    or secret."""
    cls = KINDS.get(kind)
    if cls is None:
        raise SettingError("kind", f"unknown source kind {kind!r}; known: "
                                   f"{', '.join(sorted(KINDS))}")
    secrets: dict[str, bool] = getattr(cls, "SECRETS", {})
    accepted = settings_of(cls)
    for key in settings:
        if key in secrets:
            raise SettingError(key, f"{key} is a secret: set it in the environment as "
                                    f"{secret_variable(name, key)}, not in the file")
        if key not in accepted:
            raise SettingError(key, f"unknown setting for a {kind} source; known: "
                                    f"{', '.join(sorted(accepted))}")
    found = {}
    for secret, required in secrets.items():
        value = env.get(secret_variable(name, secret))
        if value:
            found[secret] = value
        elif required:
            raise SettingError("-", f"a {kind} source needs {secret_variable(name, secret)} "
                                    "in the environment")
    try:
        return cls(name=name, **settings, **found)
    except TypeError as exc:  # a missing required setting
        missing = re.search(r"argument: '(\w+)'", str(exc))
        raise SettingError(missing.group(1) if missing else "-", str(exc)) from None
    except (ValueError, OSError) as exc:
        # Collectors name the setting first ("per_minute must be …") or in `backticks`.
        named = [n for n in re.findall(r"^(\w+)|`(\w+)`", str(exc)) for n in n if n]
        key = next((n for n in named if n in accepted), "-")
        raise SettingError(key, str(exc)) from None


def settings_of(cls: type) -> set[str]:
    """The config keys a collector takes: its parameters, and the shared HTTP ones."""
    params = inspect.signature(cls).parameters
    names = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY or
             p.kind is p.POSITIONAL_OR_KEYWORD}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()) and issubclass(cls, HttpSource):
        names |= settings_of(HttpSource)
    return names - NOT_SETTINGS - set(getattr(cls, "SECRETS", {}))
