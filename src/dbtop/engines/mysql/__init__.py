"""The MySQL / MariaDB engine (``mysql://``, ``mariadb://``); the class is in ``engine``.

Role modules as in every engine package: ``sessions``, ``statements`` (digests and the slow
log table), ``indexes``, ``locks``, ``kill``, ``explain``, ``summary``, ``capabilities``,
``advice``, ``connection``; engine-only: ``flavor`` (which server, which features),
``url`` (URL and option files), ``poll`` (the sections of one poll), ``workload`` (the
advisor's statement analysis).
"""

from dbtop.engines.mysql.engine import MySQLEngine

__all__ = ["MySQLEngine"]
