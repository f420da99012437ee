"""The MongoDB engine (mongod, replica set, mongos): the class is in ``engine``; each pane's
reading is in its role module (``sessions``, ``statements``, ``indexes``, ``locks``,
``summary``), the actions in ``kill``, ``explain`` and ``advice``."""

from dbtop.engines.mongodb.capabilities import LABELS
from dbtop.engines.mongodb.engine import MongoEngine

__all__ = ["LABELS", "MongoEngine"]
