"""The Redis engine: clients, slow log, keyspace and blocked clients, standalone or cluster.

The class is in ``engine``; the role modules beside it are those of every engine package
(docs/engines/redis.md lists what each pane shows).
"""

from dbtop.engines.redis.engine import RedisEngine
from dbtop.engines.redis.indexes import SampleBudget

__all__ = ["RedisEngine", "SampleBudget"]
