"""Every ensemble statefulkit ships, by the key its stack-config block and its exports go by.

A new ensemble adds one line here; the program, the exports and the tests iterate this mapping
instead of naming each ensemble.
"""

from __future__ import annotations

from typing import Any

from statefulkit.ensemble import Ensemble
from statefulkit.redis import RedisEnsemble
from statefulkit.zookeeper import ZooKeeperEnsemble

ENSEMBLES: dict[str, type[Ensemble[Any]]] = {
    "zookeeper": ZooKeeperEnsemble,
    "redis": RedisEnsemble,
}
